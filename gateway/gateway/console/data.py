"""What the console shows, gathered in parallel: the gateway's own view of every instance
(readiness and breaker, as ``/health``), each worker's readiness, outbox and parking queue
(its ``/ops`` endpoints), and catalog's stock audit. A part that cannot be had is shown as
such; it never fails the page."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from flotilla.http import ServiceClient
from flotilla.http.errors import UpstreamError
from gateway import upstreams
from gateway.state import gateway_of

log = logging.getLogger(__name__)


@dataclass
class WorkerView:
    service: str
    url: str
    ready: str = "unknown"
    outbox: dict[str, Any] | None = None
    outbox_error: str | None = None
    parking: dict[str, Any] | None = None
    parking_error: str | None = None


@dataclass
class AuditView:
    ok: bool | None = None
    products: int = 0
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Dashboard:
    services: dict[str, Any]
    workers: list[WorkerView]
    audit: AuditView


def _why(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"HTTP {response.status_code}" + (f": {detail}" if isinstance(detail, str) else "")


def call_worker(http: httpx.Client, method: str, url: str, bearer: str, timeout: float,
                json: Any = None) -> httpx.Response:
    return http.request(method, url, headers={"Authorization": bearer}, json=json, timeout=timeout)


def _worker(http: httpx.Client, service: str, url: str, bearer: str, timeout: float) -> WorkerView:
    view = WorkerView(service, url)
    try:
        ready = http.get(url + "/health/ready", timeout=timeout)
        view.ready = "ready" if ready.status_code == 200 else f"not ready: {ready.status_code}"
    except httpx.HTTPError as exc:
        view.ready = f"unreachable: {type(exc).__name__}"
        return view
    for name in ("outbox", "parking"):
        try:
            path = "/ops/outbox" if name == "outbox" else "/ops/dlq?limit=100"
            answer = call_worker(http, "GET", url + path, bearer, timeout)
        except httpx.HTTPError as exc:
            setattr(view, f"{name}_error", f"unreachable: {type(exc).__name__}")
            continue
        if answer.status_code == 200:
            setattr(view, name, answer.json())
        else:
            setattr(view, f"{name}_error", _why(answer))
    return view


def _audit(catalog: ServiceClient | None, bearer: str) -> AuditView:
    if catalog is None:
        return AuditView(error="no catalog service is routed")
    try:
        answer = catalog.request("GET", "/stock/audit", token=bearer, timeout=10.0)
    except UpstreamError as exc:
        return AuditView(error=str(exc))
    if answer.status_code != 200:
        return AuditView(error=_why(answer))
    body = answer.json()
    return AuditView(ok=bool(body.get("ok")), products=int(body.get("products", 0)),
                     discrepancies=list(body.get("discrepancies", [])))


def gather(workers: dict[str, str], bearer: str, timeout: float) -> Dashboard:
    state = gateway_of()
    http = next(iter(state.clients.values())).http if state.clients else httpx.Client()
    pool = state.pool
    audit = pool.submit(_audit, state.clients.get("catalog"), bearer)
    views: list[Future[WorkerView]] = [pool.submit(_worker, http, s, u, bearer, timeout)
                                       for s, u in sorted(workers.items())]
    services, _healthy = upstreams.report()
    return Dashboard(services, [v.result() for v in views], audit.result())
