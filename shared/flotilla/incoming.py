"""Per-request plumbing: request ids, and strict JSON bodies.

A body must be JSON (415 otherwise), well-formed (400) and no larger than
``MAX_BODY_BYTES`` (413) before any view sees it; only the endpoints listed under
``app.extensions[FORM_ENDPOINTS]`` take an urlencoded HTML form instead.
"""

from __future__ import annotations

import io
import logging
import time

from flask import Flask, Response, current_app, g, request

from flotilla.context import accept_or_generate, reset_request_id, set_request_id
from flotilla.problems import Problem

log = logging.getLogger("flotilla.access")

REQUEST_ID_HEADER = "X-Request-ID"
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


def init_app(app: Flask, max_body_bytes: int) -> None:
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.before_request
    def _start() -> None:
        rid = accept_or_generate(request.headers.get(REQUEST_ID_HEADER))
        g.request_id = rid
        g.request_started = time.perf_counter()
        g.request_id_token = set_request_id(rid)
        check_json_body()

    @app.after_request
    def _stamp(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms,
                 extra={"method": request.method, "path": request.path,
                        "status": response.status_code, "duration_ms": round(elapsed_ms, 2)})
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            reset_request_id(token)
