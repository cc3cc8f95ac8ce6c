"""Forwarding one request to the upstream its route names."""

from __future__ import annotations

import urllib.parse

import httpx
from flask import Flask, Response, current_app, g, request

from flotilla.http import ServiceClient
from flotilla.http.lean import LeanResponse
from flotilla.problems import Problem
from gateway.config import GatewaySettings
from gateway.headers import client_headers, upstream_headers
from gateway.limits import RouteLimit
from gateway.routes import Route, match
from gateway.state import gateway_of

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def client(service: str) -> ServiceClient:
    clients: dict[str, ServiceClient] = gateway_of().clients
    return clients[service]


def settings() -> GatewaySettings:
    found: GatewaySettings = current_app.config["FLOTILLA_SETTINGS"]
    return found


def upstream_path(rest: str) -> str:
    """``products/1`` -> ``/products/1``, re-quoted segment by segment."""
    return "/" + "/".join(urllib.parse.quote(seg, safe="@:!$&'()*+,;=-._~") for seg in rest.split("/"))


def resolve(rest: str) -> tuple[Route, str]:
    path = upstream_path(rest)
    route = match(path)
    if route is None:
        raise Problem(404, "No API lives at this path.")
    return route, path


def outgoing_headers() -> dict[str, str]:
    req = request._get_current_object()  # type: ignore[attr-defined]  # one lookup, not five
    environ = req.environ
    peer = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or req.remote_addr
    trusted = bool(environ.get("flotilla.trusted_peer"))
    return upstream_headers(req, g.request_id, peer or "unknown", trusted)


def send(route: Route, path: str, headers: dict[str, str]) -> httpx.Response | LeanResponse:
    req = request._get_current_object()  # type: ignore[attr-defined]
    query = req.query_string.decode("latin-1")
    target = path + ("?" + query if query else "")
    timeout = settings().route_timeouts.get(route.timeout_key, 5.0)
    return client(route.service).forward(req.method, target, content=req.get_data() or None,
                                         headers=headers, timeout=timeout)


def to_flask(upstream: httpx.Response | LeanResponse) -> Response:
    """The client's answer: the upstream's status, body and headers (hop-by-hop ones dropped),
    given to the response at once (werkzeug scans its header list on every ``add``/``set``)."""
    pairs = client_headers(upstream.headers.multi_items())
    response = Response(upstream.content, status=upstream.status_code, headers=pairs)
    if "content-type" not in upstream.headers:
        del response.headers["Content-Type"]  # werkzeug's default: the upstream sent none
    if request.method == "HEAD" and "content-length" in upstream.headers:
        response.headers["Content-Length"] = upstream.headers["content-length"]  # of the GET
    return response


def forward(rest: str) -> Response:
    route, path = resolve(rest)
    return to_flask(send(route, path, outgoing_headers()))


def init_app(app: Flask, limit: RouteLimit) -> None:
    view = limit(forward, "proxy")
    app.add_url_rule("/api/v1/<path:rest>", "proxy", view, methods=METHODS)
