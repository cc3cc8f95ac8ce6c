"""Per-request plumbing: request ids, strict JSON bodies, security headers, the request
metrics and the access log, in one hook of each kind.

A body must be JSON (415 otherwise), well-formed (400) and no larger than
``MAX_BODY_BYTES`` (413) before any view sees it; only the endpoints listed under
``app.extensions[FORM_ENDPOINTS]`` take an urlencoded HTML form instead.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, request

from flotilla.context import accept_or_generate, reset_request_id, set_request_id
from flotilla.metrics import EXCLUDED_PATHS, RequestMetrics, rule_of
from flotilla.problems import Problem

log = logging.getLogger("flotilla.access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
#: Added to every answer that does not set them itself.
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"),
                    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
                    ("Referrer-Policy", "no-referrer"))
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
FORM = "application/x-www-form-urlencoded"
#: ``app.extensions`` key: the endpoints that take HTML form posts instead of JSON bodies.
FORM_ENDPOINTS = "flotilla_form_endpoints"


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def read_unsized_body(limit: int) -> None:
    """Read a body without Content-Length (chunked) up to ``limit`` bytes, or refuse it.

    werkzeug caps such a stream at ``MAX_CONTENT_LENGTH`` by cutting it short, so an
    over-limit chunked body would be parsed truncated. Read one byte past the limit
    ourselves: more than ``limit`` is a 413; otherwise the body is put back as a sized
    stream for the view.
    """
    stream = request.environ["wsgi.input"]
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise Problem(413, f"The body is larger than {limit} bytes.", title="Content Too Large",
                      slug="content-too-large")
    raw = b"".join(parts)
    request.environ["wsgi.input"] = io.BytesIO(raw)
    request.environ["CONTENT_LENGTH"] = str(len(raw))
    request.__dict__.pop("stream", None)  # werkzeug caches the stream it built
    request.__dict__.pop("content_length", None)


def check_json_body() -> None:
    """Reject bodies that are not JSON, too large, or malformed."""
    if request.method not in METHODS_WITH_BODY or request.routing_exception is not None:
        return  # no body expected, or routing already failed (404/405 say more)
    length = request.content_length
    if not length and not request.headers.get("Transfer-Encoding"):
        return  # an empty body; the view's schema decides whether that is fine
    if not _is_json(request.mimetype):
        if request.mimetype == FORM and request.endpoint in current_app.extensions.get(FORM_ENDPOINTS, ()):
            if length is None:
                read_unsized_body(current_app.config["MAX_CONTENT_LENGTH"])
            return  # an HTML form's view (the gateway's console) reads request.form itself
        raise Problem(415, "Send the body as application/json.")
    if length is None:
        read_unsized_body(current_app.config["MAX_CONTENT_LENGTH"])
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw:
        return
    try:
        request.get_json(force=True, silent=False, cache=True)
    except Exception:
        raise Problem(400, "The body is not well-formed JSON.", title="Malformed JSON",
                      slug="malformed-json") from None


def security_headers(response: Response, environ: Mapping[str, Any]) -> None:
    """Every answer of a service port: no sniffing, no framing, no referrer, and nothing kept
    by a cache when it was for one caller (the gateway adds the same at the edge). Headers
    the view set stay as they are."""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if "HTTP_AUTHORIZATION" in environ:
        headers["Cache-Control"] = "no-store"


def init_app(app: Flask, max_body_bytes: int, recorder: RequestMetrics | None = None) -> None:
    """The kit's request hooks: one before, one after, one teardown (each hook costs Flask a
    lookup and a call per request, docs/decisions/0171-request-hooks.md). Before: the request
    id, the start time, the body checks. After: the security headers, ``X-Request-ID``, the
    request metrics (``recorder``) and the access log line. Teardown: the request id is reset
    and an exception that escaped every handler is counted."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    info_enabled = log.isEnabledFor

    @app.before_request
    def _start() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        state = g._get_current_object()
        rid = accept_or_generate(req.environ.get(REQUEST_ID_ENVIRON))
        state.request_id = rid
        state.request_started = time.perf_counter()
        state.request_id_token = set_request_id(rid)
        if req.method in METHODS_WITH_BODY:
            check_json_body()

    @app.after_request
    def _stamp(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        state = g._get_current_object()
        security_headers(response, req.environ)
        rid = state.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        started = state.get("request_started")
        elapsed = time.perf_counter() - started if started else 0.0
        path, method, status = req.path, req.method, response.status_code
        if recorder is not None and started and not EXCLUDED_PATHS.match(path):
            state.request_observed = True
            recorder.observe(method, rule_of(req.url_rule), status, elapsed)
        if info_enabled(logging.INFO):
            elapsed_ms = elapsed * 1000
            log.info("%s %s %s %.1fms", method, path, status, elapsed_ms,
                     extra={"method": method, "path": path, "status": status,
                            "duration_ms": round(elapsed_ms, 2)})
        return response

    @app.teardown_request
    def _end(exc: BaseException | None) -> None:
        state = g._get_current_object()
        token = state.pop("request_id_token", None)
        if token is not None:
            reset_request_id(token)
        started = state.get("request_started")
        if exc is None or recorder is None or not started or EXCLUDED_PATHS.match(request.path):
            return
        if state.get("request_observed"):
            recorder.exceptions.labels(request.method, 500, recorder.service).inc()
        else:
            recorder.failed(request.method, rule_of(request.url_rule), time.perf_counter() - started)
