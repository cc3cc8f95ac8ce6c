"""Observability end to end, on the real platform (the e2e processes, with tracing on): a real
Prometheus scrapes every process every second; orders driven through the gateway (one confirmed,
one rejected for lack of stock, one cancelled) move flotilla_orders_total by outcome and the saga
histogram, as Prometheus' query API shows; with catalog's worker stopped while orders keep coming,
the platform's TargetDown rule (its own expression, a test-short ``for:``) fires. An OTLP/HTTP
receiver in the test gets the spans: for one order, the gateway's, orders API's and catalog API's,
then across both AMQP hops of the saga orders-worker's publish of order.placed, catalog-worker's
handling of it and publish of stock.reserved, and orders-worker's handling of that, each the
child of the one before, all share the trace id the client sent."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flotilla.testing import free_port, wait_for
from flotilla.testing.otlp import OtlpReceiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4737"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def traced(receiver: OtlpReceiver) -> Iterator[None]:
    """Every process of this module's platform exports its spans to the receiver (the platform
    fixture copies the environment when it starts them)."""
    settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "OTEL_BSP_SCHEDULE_DELAY": "100"}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    # The platform fixture seeds catalog in this process, which turned tracing on here too:
    # later tests' in-process apps and clients must not be traced.
    from flotilla import tracing

    tracing.reset_for_tests()


def _targets(platform: Any) -> dict[str, list[str]]:
    """Prometheus jobs named as in scripts/prometheus.sh, from the platform's processes."""
    jobs: dict[str, list[str]] = {}
    for part in platform.parts:
        command = getattr(part, "command", None)
        app = getattr(part, "_cmd", [""])[-1]
        if command is not None:
            job = command
        elif app.endswith(":create_app()"):
            name = app.split(":")[0]
            job = name if name == "gateway" else f"{name}-api"
        else:
            continue
        jobs.setdefault(job, []).append(f"127.0.0.1:{part.port}")
    return jobs


def _rules(path: Path) -> None:
    """The platform's TargetDown alert, its expression unchanged, with ``for: 1s``."""
    source = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    rules = [dict(r, **{"for": "1s"}) for g in source["groups"] for r in g["rules"]
             if r.get("alert") == "TargetDown"]
    assert rules, "deploy/prometheus/rules.yml has no TargetDown alert"
    path.write_text(yaml.safe_dump({"groups": [{"name": "e2e", "interval": "1s", "rules": rules}]}))


@pytest.fixture(scope="module")
def prometheus(platform: Any) -> Iterator[str]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: Debian's `prometheus` package "
                    "(scripts/system-deps.sh run installs it as root).", pytrace=False)
    work = Path(tempfile.mkdtemp(prefix="flotilla-prom-"))
    _rules(work / "rules.yml")
    scrape = [{"job_name": job, "static_configs": [{"targets": targets}]}
              for job, targets in _targets(platform).items()]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
              "rule_files": [str(work / "rules.yml")], "scrape_configs": scrape}
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((work / "prometheus.log").read_text()[-3000:])
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        wait_for(ready, timeout=20, what="prometheus ready")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def api(url: str, path: str, **params: str) -> Any:
    body = httpx.get(f"{url}/api/v1/{path}", params=params, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]


def query(url: str, promql: str) -> dict[str, float]:
    """Instant query: each series' value, keyed by its labels (sorted ``k=v`` pairs)."""
    result = api(url, "query", query=promql)["result"]
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())): float(r["value"][1])
            for r in result}


class Shop:
    """A customer on the gateway (no nginx: its traceparent reaches the gateway as sent)."""

    def __init__(self, gateway_url: str) -> None:
        self.base, self.http = gateway_url + "/api/v1", httpx.Client(timeout=10)
        email = f"obs-{uuid.uuid4().hex[:10]}@example.com"
        password = "correct horse battery staple"
        r = self.http.post(self.base + "/auth/register", json={"email": email, "password": password,
                                                                "name": "Obs"})
        assert r.status_code == 201, r.text
        r = self.http.post(self.base + "/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        self.auth = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def products(self) -> list[dict[str, Any]]:
        """The demo products, most stock first."""
        r = self.http.get(self.base + "/products?limit=20")
        assert r.status_code == 200, r.text
        return sorted(r.json()["items"], key=lambda p: -p["stock"])

    def place(self, product_id: str, quantity: int, **headers: str) -> str:
        r = self.http.post(self.base + "/orders", headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex,
                                                           **headers},
                           json={"items": [{"product_id": product_id, "quantity": quantity}]})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def status(self, order_id: str) -> str:
        return str(self.http.get(f"{self.base}/orders/{order_id}", headers=self.auth).json()["status"])

    def settled(self, order_id: str, status: str) -> None:
        wait_for(lambda: self.status(order_id) == status, timeout=20, interval=0.1, what=f"order {status}")

    def cancel(self, order_id: str) -> None:
        r = self.http.post(f"{self.base}/orders/{order_id}/cancel", headers=self.auth)
        assert r.status_code in (200, 202), r.text


def _by_outcome(url: str) -> dict[str, float]:
    rows = query(url, "sum by (outcome) (flotilla_orders_total)")
    return {key.removeprefix("outcome="): value for key, value in rows.items()}


def test_metrics_move_alerts_fire_and_one_order_is_one_trace(platform: Any, prometheus: str,
                                                             receiver: OtlpReceiver) -> None:
    started = time.monotonic()
    gateway = next(p for p in platform.parts if getattr(p, "_cmd", [""])[-1] == "gateway:create_app()")
    wait_for(lambda: {r["health"] for r in api(prometheus, "targets")["activeTargets"]} == {"up"},
             timeout=15, interval=0.25, what="every target up")
    before = _by_outcome(prometheus)
    saga_before = sum(query(prometheus, "sum(flotilla_order_saga_duration_seconds_count)").values())

    shop = Shop(gateway.base_url)
    *_, scarce = products = shop.products()
    product = products[0]
    assert scarce["stock"] < 1000  # an order may ask for up to 1000 of a product
    confirmed = shop.place(product["id"], 1, traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    rejected = shop.place(scarce["id"], scarce["stock"] + 1)
    cancelled = shop.place(product["id"], 1)
    shop.settled(confirmed, "confirmed")
    shop.settled(rejected, "rejected")
    shop.settled(cancelled, "confirmed")
    shop.cancel(cancelled)
    shop.settled(cancelled, "cancelled")

    def moved() -> dict[str, float] | None:
        now = _by_outcome(prometheus)
        expected = {"placed": 3, "confirmed": 2, "rejected": 1, "cancelled": 1}
        delta = {k: now.get(k, 0) - before.get(k, 0) for k in expected}
        return delta if delta == expected else None
    delta = wait_for(moved, timeout=10, interval=0.25, what=f"flotilla_orders_total to move ({before})")
    saga = wait_for(lambda: (n := sum(query(prometheus, "sum(flotilla_order_saga_duration_seconds_count)")
                                      .values()) - saga_before) >= 2 and n,
                    timeout=10, interval=0.25, what="the saga histogram to count the settled orders")
    metrics_at = time.monotonic() - started

    # One order, one trace: every process's spans for it carry the trace id the client sent, the
    # saga's AMQP hops included (relay publish -> consumer handling -> its event's publish -> ...).
    hops = [("orders-worker", "publish order.placed.v1"), ("catalog-worker", "process order.placed.v1"),
            ("catalog-worker", "publish stock.reserved.v1"), ("orders-worker", "process stock.reserved.v1")]

    def traced() -> tuple[dict[tuple[str, str], Any], Any] | None:
        trace = [s for s in receiver.spans if s.trace_id == TRACE_ID]
        found = {(s.service, s.name): s for s in trace}
        by_id = {s.span_id: s for s in trace}
        services = {service for service, _ in found}
        if not ({"gateway", "orders", "catalog"} <= services and set(hops) <= set(found)):
            return None
        writer = by_id.get(found[hops[0]].parent_span_id)  # the span that wrote the outbox row
        return (found, writer) if writer else None
    spans, writer = wait_for(traced, timeout=15, interval=0.2, what=f"spans of {TRACE_ID} across the saga")
    chain = [spans[hop] for hop in hops]
    assert [s.kind for s in chain] == [4, 5, 4, 5]  # producer, consumer (the protocol's SpanKind)
    assert [s.parent_span_id for s in chain[1:]] == [s.span_id for s in chain[:-1]]
    assert writer.service == "orders"  # orders API's request span

    # Catalog's worker stops while orders keep coming: the target-down alert fires for it.
    # (Only catalog-worker's alert is asserted on: a scrape of another process that is slow once on
    # a busy machine may fire it for that process too, with a one-second ``for:``.)
    def firing() -> list[dict[str, str]]:
        return [a["labels"] for a in api(prometheus, "alerts")["alerts"]
                if a["state"] == "firing" and a["labels"].get("job") == "catalog-worker"]
    assert firing() == []
    worker = next(p for p in platform.parts if getattr(p, "command", None) == "catalog-worker")
    worker.stop()
    stuck = [shop.place(product["id"], 1)]

    def alert() -> list[dict[str, str]] | None:
        stuck.append(shop.place(product["id"], 1))
        fired = [a for a in firing() if a["alertname"] == "TargetDown"]
        return fired or None
    fired = wait_for(alert, timeout=15, interval=0.5, what="TargetDown firing")
    assert {a["instance"] for a in fired} == {f"127.0.0.1:{worker.port}"}
    assert all(shop.status(order_id) == "pending" for order_id in stuck)
    ours = [s for s in receiver.spans if s.trace_id == TRACE_ID]
    print(f"\norders by outcome {delta}, saga count +{saga:g}, metrics seen after {metrics_at:.1f}s; "
          f"trace {TRACE_ID}: {sorted({(s.service, s.name) for s in ours})} "
          f"(spans from {sorted({s.service for s in receiver.spans})}); "
          f"TargetDown firing {time.monotonic() - started:.1f}s "
          f"after start, {len(stuck)} orders pending meanwhile")
