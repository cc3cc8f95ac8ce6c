"""``/openapi.json``: the services' documents merged under the public paths, and
Swagger UI at ``/docs`` from the flask-swagger-ui package's files (no CDN)."""

from __future__ import annotations

import contextvars
import copy
import logging
import threading
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Flask, Response, current_app, jsonify, redirect, request, send_from_directory

from flotilla import openapi
from flotilla.http import UpstreamError
from flotilla.problems import PROBLEM_JSON, Problem
from gateway import proxy, routes
from gateway.state import gateway_of

log = logging.getLogger(__name__)

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
STATIC = Path(__file__).parent / "static"
SWAGGER_FILES = frozenset({"swagger-ui.css", "index.css", "swagger-ui-bundle.js",
                           "swagger-ui-standalone-preset.js", "favicon-32x32.png", "favicon-16x16.png"})
REF = "#/components/schemas/"
RATE_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
#: What the gateway itself may answer on any public operation: 400 (edge checks: odd Host,
#: dot segments, control characters), 401 (a bad token, whatever the route), 429 (its rate
#: limits), 502/503/504 (the upstream failing, its breakers open, or too slow).
GATEWAY_STATUSES = (400, 401, 429, 502, 503, 504)
EXPANDED_ORDER = "/api/v1/orders/{order_id}"


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rename_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF):] in renames:
            out["$ref"] = REF + renames[ref[len(REF):]]
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def merge(documents: dict[str, dict[str, Any]], missing: list[str]) -> dict[str, Any]:
    """One OpenAPI 3.1 document; only paths the route table sends to that service are kept,
    under ``/api/v1``; clashing schema names get the service's name in front."""
    out: dict[str, Any] = {"openapi": "3.1.0",
                           "info": {"title": "Flotilla API", "version": "1.0.0"},
                           "servers": [{"url": "/"}], "paths": {},
                           "components": {"schemas": {}, "securitySchemes": {}}, "tags": []}
    schemas = out["components"]["schemas"]
    for service, document in sorted(documents.items()):
        own = document.get("components", {}).get("schemas", {})
        renames = {n: service.capitalize() + n for n, s in own.items() if n in schemas and schemas[n] != s}
        document = _rename_refs(copy.deepcopy(document), renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        out["components"]["securitySchemes"].update(document.get("components", {}).get("securitySchemes", {}))
        for path, item in document.get("paths", {}).items():
            route = routes.match(path)
            if route is not None and route.service == service:
                out["paths"][routes.PUBLIC_PREFIX + path] = item
        known = {t["name"] for t in out["tags"]}
        out["tags"] += [t for t in document.get("tags", []) if t.get("name") not in known]
        out["components"].setdefault("headers", {}).update(document.get("components", {}).get("headers", {}))
    _gateway_responses(out)
    _expansion(out)
    used = {tag for item in out["paths"].values() for op in item.values() if isinstance(op, dict)
            for tag in op.get("tags", [])}
    out["tags"] = [t for t in out["tags"] if t.get("name") in used]  # none for unpublished paths
    if missing:
        out["x-flotilla-unavailable"] = sorted(missing)
    return out


def _gateway_responses(doc: dict[str, Any]) -> None:
    """The statuses and headers the gateway adds to every public operation."""
    doc["components"].setdefault("headers", {}).update(copy.deepcopy(openapi.HEADERS))
    for name, schema in openapi.problem_schemas().items():  # a service document may lack them
        doc["components"]["schemas"].setdefault(name, schema)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemModel"}}}
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method not in openapi.OPERATION_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in GATEWAY_STATUSES:
                responses.setdefault(str(status), {"description": openapi.STATUS_TEXT[status],
                                                   "content": copy.deepcopy(problem)})
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                retry = ["Retry-After"] if status in ("429", "503") else []
                names = ["X-Request-ID", *RATE_HEADERS, *retry]
                for name in names:
                    headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
            operation["responses"] = dict(sorted(responses.items()))


def _expansion(doc: dict[str, Any]) -> None:
    """``GET /api/v1/orders/{order_id}?expand=products`` is the gateway's own composition."""
    operation = doc["paths"].get(EXPANDED_ORDER, {}).get("get")
    schemas = doc["components"]["schemas"]
    if operation is None or "OrderOut" not in schemas or "LineOut" not in schemas:
        return
    line = copy.deepcopy(schemas["LineOut"])
    line["title"] = "ExpandedLine"
    product: dict[str, Any] = ({"anyOf": [{"$ref": REF + "ProductOut"}, {"type": "null"}]}
                               if "ProductOut" in schemas else {})
    line.setdefault("properties", {})["product"] = {
        **product, "description": "The product as it is now; null when catalog could not be asked."}
    order = copy.deepcopy(schemas["OrderOut"])
    order["title"] = "ExpandedOrder"
    order.setdefault("properties", {})["lines"] = {"type": "array", "items": {"$ref": REF + "ExpandedLine"}}
    order["properties"]["expanded"] = {
        "type": "string", "enum": ["complete", "partial"],
        "description": "With ``expand=products``: ``partial`` when some products could not be fetched."}
    schemas["ExpandedLine"], schemas["ExpandedOrder"] = line, order
    operation.setdefault("parameters", []).append({
        "name": "expand", "in": "query", "required": False,
        "description": "``products``: each line also carries its product as catalog has it now.",
        "schema": {"type": "string", "enum": ["products"]}})
    operation["description"] = (operation.get("description", "") + "\n\nWith ``expand=products`` the "
                                "gateway adds each line's current product (fetched from catalog in "
                                "parallel; ``expanded`` says whether all were found).").strip()
    content = operation["responses"]["200"].get("content", {}).get("application/json")
    if content is not None:
        content["schema"] = {"$ref": REF + "ExpandedOrder"}


class MergedDocument:
    """Fetches the services' documents in parallel; a complete merge is cached."""

    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._methods: tuple[float, routes.MethodTable] | None = None
        self._lock = threading.Lock()

    def methods(self) -> routes.MethodTable:
        """The public paths' methods, from the last merge (partial ones too), at most
        ``cache_seconds`` old."""
        with self._lock:
            if self._methods and time.monotonic() - self._methods[0] < self.cache_seconds:
                return self._methods[1]
        self.get()
        with self._lock:
            assert self._methods is not None
            return self._methods[1]

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
        pool: Executor = gateway_of().pool
        futures = {s: pool.submit(contextvars.copy_context().run, proxy.client(s).get_json,
                                  "/openapi.json", timeout=2.0)
                   for s in routes.services()}
        documents, missing = {}, []
        for service, future in futures.items():
            try:
                documents[service] = future.result()
            except (UpstreamError, ValueError) as exc:
                log.warning("no OpenAPI document from %s: %s", service, exc)
                missing.append(service)
        merged = merge(documents, missing)
        table = routes.MethodTable({path: [m for m in item if m in openapi.OPERATION_METHODS]
                                    for path, item in merged["paths"].items()})
        with self._lock:
            self._methods = (time.monotonic(), table)
        if not missing:
            with self._lock:
                self._cached = (time.monotonic(), merged)
        return merged


def method_refusal() -> Problem | None:
    """A 405 (with ``Allow``) when the request's method is not one its public path has;
    None when it is, or when no document describes the path. The authentication step asks
    before refusing a bad token, so an undeclared method is a 405 whatever the token."""
    document: MergedDocument = current_app.extensions["gateway_document"]
    allowed = document.methods().allowed(request.path)
    if allowed is None or request.method in allowed:
        return None
    return Problem(405, f"{request.path} does not accept {request.method}.",
                   headers={"Allow": routes.allow_header(allowed)})


def init_app(app: Flask, cache_seconds: float) -> None:
    document = MergedDocument(cache_seconds)
    app.extensions["gateway_document"] = document

    @app.before_request
    def _options() -> Response | None:
        """``OPTIONS`` on a public path lists the methods its document gives it (CORS
        preflights are answered the same way, flask-cors adding its headers)."""
        if request.method != "OPTIONS" or request.endpoint not in ("proxy", "order_expanded"):
            return None
        allowed = document.methods().allowed(request.path)
        if allowed is None:
            return None
        response = app.make_default_options_response()
        response.headers["Allow"] = routes.allow_header(allowed)
        return response

    def openapi_json() -> Response:
        return jsonify(document.get())

    def docs_page() -> Response:
        return send_from_directory(STATIC, "docs.html", mimetype="text/html")

    def docs_file(name: str) -> Response:
        if name == "docs-init.js":
            return send_from_directory(STATIC, name)
        if name not in SWAGGER_FILES:
            raise Problem(404, "No such file in the API documentation.")
        return send_from_directory(SWAGGER_DIST, name)

    # The kit registered /openapi.json for the gateway's own (empty) API: serve the merge instead.
    app.view_functions["openapi_document"] = openapi_json
    app.add_url_rule("/docs", "docs", docs_page)
    app.add_url_rule("/docs/<name>", "docs_file", docs_file)
    # The public API lives under /api/v1, so its documents answer there too.
    app.add_url_rule("/api/v1/openapi.json", "openapi_json_public", openapi_json)
    app.add_url_rule("/api/v1/docs", "docs_public", lambda: redirect("/docs", 308))
