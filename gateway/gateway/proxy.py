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
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.remote_addr
    trusted = bool(request.environ.get("flotilla.trusted_peer"))
    return upstream_headers(request, g.request_id, peer or "unknown", trusted)


def send(route: Route, path: str, headers: dict[str, str]) -> httpx.Response | LeanResponse:
    query = request.query_string.decode("latin-1")
    target = path + ("?" + query if query else "")
    timeout = settings().route_timeouts.get(route.timeout_key, 5.0)
    return client(route.service).forward(request.method, target, content=request.get_data() or None,
                                         headers=headers, timeout=timeout)


def to_flask(upstream: httpx.Response | LeanResponse) -> Response:
    response = Response(upstream.content, status=upstream.status_code)
    del response.headers["Content-Type"]  # the upstream's, if any, comes below
    for key, value in client_headers(upstream.headers.multi_items()):
        response.headers.add(key, value)
    if request.method == "HEAD" and "content-length" in upstream.headers:
        response.headers["Content-Length"] = upstream.headers["content-length"]  # of the GET
    return response


def forward(rest: str) -> Response:
    route, path = resolve(rest)
    return to_flask(send(route, path, outgoing_headers()))


def init_app(app: Flask, limit: RouteLimit) -> None:
    view = limit(forward, "proxy")
    app.add_url_rule("/api/v1/<path:rest>", "proxy", view, methods=METHODS)
