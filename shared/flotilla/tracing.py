"""Tracing with the OpenTelemetry SDK: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, spans exported as OTLP over HTTP; off
otherwise, and then nothing of the SDK is imported and nothing is patched.

Incoming requests (Flask) continue the caller's W3C ``traceparent``; the kit's httpx
clients send it on. Over AMQP: an outbox row keeps the context of the work that wrote it
(:func:`outgoing_context`), the relay publishes each row in a producer span, child of
it, with the span's context in the message headers (:func:`start_publish`), and the
consumer handles each delivery in a consumer span continuing those headers
(:func:`consume_span`), so events written while handling carry it on. The exporter
honours the standard ``OTEL_*`` variables (headers, timeout, sampler). See
docs/decisions/0100-tracing-opentelemetry.md.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from flask import Flask

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes are not worth a span each.
EXCLUDED_URLS = "/health/.*,/metrics"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
#: The outbox's ``tracestate`` column; a longer one is dropped (W3C allows that), not cut.
TRACESTATE_MAX = 512
#: What the messaging spans say about the broker (OpenTelemetry's messaging conventions).
MESSAGING_SYSTEM = "rabbitmq"

_lock = threading.Lock()
_on = False
_events_tracer: Any = None


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


def outgoing_context() -> dict[str, str]:
    """The current span's W3C context as outbox columns (``traceparent``, ``tracestate``);
    empty when tracing is off or no span is current."""
    if not _on:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    if len(carrier.get("tracestate", "")) > TRACESTATE_MAX:
        del carrier["tracestate"]
    return carrier


def _parent(carrier: Mapping[str, Any] | None) -> Any:
    """The context continued from ``traceparent``/``tracestate`` in ``carrier`` (AMQP headers
    may arrive as bytes), or ``None`` for a new trace."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    found = {}
    for key in ("traceparent", "tracestate"):
        value = (carrier or {}).get(key)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value:
            found[key] = value
    return TraceContextTextMapPropagator().extract(found) if "traceparent" in found else None


def _tracer() -> Any:
    """The events' tracer, made once (``get_tracer`` is not free)."""
    global _events_tracer
    if _events_tracer is None:
        from opentelemetry import trace

        _events_tracer = trace.get_tracer("flotilla.events")
    return _events_tracer


def start_publish(routing_key: str, message_id: str, exchange: str,
                  traceparent: str | None, tracestate: str | None) -> tuple[Any, dict[str, str]]:
    """A producer span ``publish <routing key>``, child of the stored context (a new trace
    without one), and the headers that carry it; ``(None, {})`` when tracing is off. End it
    with :func:`end_publish` once the broker has confirmed (or not)."""
    if not _on:
        return None, {}
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    span = _tracer().start_span(
        f"publish {routing_key}", context=_parent({"traceparent": traceparent, "tracestate": tracestate}),
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": MESSAGING_SYSTEM, "messaging.operation.type": "send",
                    "messaging.destination.name": exchange, "messaging.message.id": message_id,
                    "messaging.rabbitmq.destination.routing_key": routing_key})
    headers: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(headers, context=trace.set_span_in_context(span))
    return span, headers


def end_publish(span: Any, confirmed: bool) -> None:
    if span is None:
        return
    if not confirmed:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, "not confirmed by the broker"))
    span.end()


@contextmanager
def consume_span(headers: Mapping[str, Any] | None, queue: str, routing_key: str,
                 message_id: str | None) -> Iterator[Any]:
    """While handling one delivery: a consumer span ``process <routing key>`` continuing the
    message's ``traceparent``, current in this context (copy the context into the handler's
    thread). Yields the span (``None`` when tracing is off: no span, no work)."""
    if not _on:
        yield None
        return
    from opentelemetry import trace

    attributes = {"messaging.system": MESSAGING_SYSTEM, "messaging.operation.type": "process",
                  "messaging.destination.name": queue,
                  "messaging.rabbitmq.destination.routing_key": routing_key}
    if message_id:
        attributes["messaging.message.id"] = message_id
    with _tracer().start_as_current_span(
            f"process {routing_key}", context=_parent(headers), kind=trace.SpanKind.CONSUMER,
            attributes=attributes) as span:
        yield span


def record_outcome(span: Any, outcome: str, error: str) -> None:
    """Record a delivery's outcome on its consumer span; an error status unless applied."""
    if span is None:
        return
    span.set_attribute("flotilla.outcome", outcome)
    if error:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, error[:500]))


def reset_for_tests() -> None:
    """Forget that tracing was configured (the SDK's global provider stays)."""
    global _on, _events_tracer
    _on, _events_tracer = False, None
