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
from flask import Flask, Response, jsonify, redirect, send_from_directory

from flotilla.http import UpstreamError
from flotilla.problems import Problem
from gateway import proxy, routes
from gateway.state import gateway_of

log = logging.getLogger(__name__)

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
STATIC = Path(__file__).parent / "static"
SWAGGER_FILES = frozenset({"swagger-ui.css", "index.css", "swagger-ui-bundle.js",
                           "swagger-ui-standalone-preset.js", "favicon-32x32.png", "favicon-16x16.png"})
REF = "#/components/schemas/"


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
    used = {tag for item in out["paths"].values() for op in item.values() if isinstance(op, dict)
            for tag in op.get("tags", [])}
    out["tags"] = [t for t in out["tags"] if t.get("name") in used]  # none for unpublished paths
    if missing:
        out["x-flotilla-unavailable"] = sorted(missing)
    return out


class MergedDocument:
    """Fetches the services' documents in parallel; a complete merge is cached."""

    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

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
        if not missing:
            with self._lock:
                self._cached = (time.monotonic(), merged)
        return merged


def init_app(app: Flask, cache_seconds: float) -> None:
    document = MergedDocument(cache_seconds)

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
