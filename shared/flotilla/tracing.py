"""Tracing with the OpenTelemetry SDK: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, spans exported as OTLP over HTTP; off
otherwise, and then nothing of the SDK is imported and nothing is patched.

Incoming requests (Flask) continue the caller's W3C ``traceparent``; the kit's httpx
clients send it on. The exporter honours the standard ``OTEL_*`` variables (headers,
timeout, sampler). See docs/decisions/0100-tracing-opentelemetry.md.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from flask import Flask

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes are not worth a span each.
EXCLUDED_URLS = "/health/.*,/metrics"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

_lock = threading.Lock()
_on = False


def wanted() -> bool:
    """Does the environment ask for tracing?"""
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def enabled() -> bool:
    """Is tracing on in this process (``configure`` ran and the environment asked for it)?"""
    return _on


def configure(service: str) -> bool:
    """Install the SDK's tracer provider and OTLP/HTTP exporter once per process, if wanted."""
    global _on
    if not wanted():
        return False
    with _lock:
        if _on:
            return True
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _on = True
    log.info("tracing on: spans of %s go to %s", service,
             next(os.environ[n] for n in reversed(ENDPOINT_VARIABLES) if os.environ.get(n)))
    return True


def init_app(app: Flask, service: str) -> None:
    """Trace every request of ``app`` (continuing the caller's ``traceparent``), if wanted."""
    if not configure(service):
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app, excluded_urls=EXCLUDED_URLS)


def instrument_httpx(client: httpx.Client) -> httpx.Client:
    """A span per outgoing call, and ``traceparent`` sent with it, if tracing is on."""
    if _on:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)
    return client


def current_trace_id() -> str | None:
    """The trace id (32 hex digits) of the current span; with tracing off, the one of the
    request's incoming ``traceparent`` (the gateway mints one for every request)."""
    if _on:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return format(context.trace_id, "032x")
    from flask import has_request_context, request

    if has_request_context():
        found = _TRACEPARENT.match(request.headers.get("traceparent", "").strip().lower())
        if found:
            return found.group(1)
    return None


def inject(carrier: dict[str, Any]) -> dict[str, Any]:
    """Add the current context's ``traceparent`` (and ``tracestate``) to ``carrier``, if on."""
    if _on:
        from opentelemetry.propagate import inject as _inject

        _inject(carrier)
    return carrier


def reset_for_tests() -> None:
    """Forget that tracing was configured (the SDK's global provider stays)."""
    global _on
    _on = False
