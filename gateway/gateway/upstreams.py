"""``GET /health``: every upstream, every instance: ready or not, and its breaker."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

import httpx
from flask import Flask, Response, jsonify

from flotilla.discovery import Discovery, DiscoveryError
from gateway import routes
from gateway.state import gateway_of


def _probe(http: httpx.Client, url: str) -> str:
    try:
        status = http.get(url + "/health/ready", timeout=1.0).status_code
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ready" if status == 200 else f"not ready: {status}"


def report() -> tuple[dict[str, Any], bool]:
    discovery: Discovery = gateway_of().discovery
    clients = gateway_of().clients
    pool: Executor = gateway_of().pool
    out: dict[str, Any] = {}
    healthy = True
    for service in routes.services():
        try:
            instances = discovery.instances(service)
        except DiscoveryError as exc:
            out[service] = {"status": "unknown", "error": str(exc), "instances": []}
            healthy = False
            continue
        client = clients[service]
        probes = {i.url: pool.submit(_probe, client.http, i.url) for i in instances}
        listed = [{"url": url, "state": f.result(), "breaker": client.breakers.get(url).state}
                  for url, f in probes.items()]
        up = any(i["state"] == "ready" for i in listed)
        healthy = healthy and up
        out[service] = {"status": "up" if up else "down", "instances": listed}
    return out, healthy


def health() -> Response:
    upstreams, healthy = report()
    response = jsonify(status="ok" if healthy else "degraded", upstreams=upstreams)
    response.status_code = 200 if healthy else 503
    return response


def init_app(app: Flask) -> None:
    app.add_url_rule("/health", "upstream_health", health)
