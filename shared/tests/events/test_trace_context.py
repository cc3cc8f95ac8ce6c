"""The trace context across an AMQP hop, with a real RabbitMQ and a real worker process.

On (an OTLP endpoint set): the relay publishes an outbox row in a producer span, child of
the context stored in the row; the consumer handles it in a consumer span, child of that
publish; an event the handler writes keeps the consumer span's context, so its own publish
continues the same trace; the consumer's log lines carry the trace id beside the
correlation id. Off: no span, no AMQP header, no stored context, and the log lines still
carry the correlation id."""

from __future__ import annotations

import os
import re
from typing import Any

import pika
from sqlalchemy import MetaData, select, update

from flotilla.context import reset_request_id, set_request_id
from flotilla.events import outbox_table
from flotilla.events.topology import EXCHANGE
from flotilla.testing import wait_for
from flotilla.testing.otlp import OtlpReceiver

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
PRODUCER, CONSUMER = 4, 5  # SpanKind values in the protocol
OUTBOX = outbox_table(MetaData())  # the ledger's, as the kit defines it


def _produce(ledger: Any, correlation: str) -> None:
    """One event, written while handling request ``correlation`` (its correlation id)."""
    token = set_request_id(correlation)
    try:
        ledger.produce(1)
    finally:
        reset_request_id(token)


def _tap(ledger: Any, routing_key: str) -> tuple[pika.BlockingConnection, str]:
    """A queue of the test's own, bound to ``routing_key``: what the relay sent, as sent."""
    conn = pika.BlockingConnection(pika.URLParameters(ledger.broker.url))
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, EXCHANGE, routing_key)
    return conn, queue


def _taken(conn: pika.BlockingConnection, queue: str) -> Any:
    method, props, _body = conn.channel().basic_get(queue, auto_ack=True)
    return props if method is not None else None


def _stored(ledger: Any) -> list[tuple[str, str | None, str | None]]:
    t = OUTBOX.c
    with ledger.db.session() as session:
        return [tuple(r) for r in session.execute(select(t.event_type, t.traceparent, t.tracestate)
                                                  .order_by(t.id))]


def _applied_line(worker: Any, correlation: str) -> str:
    lines = [line for line in worker.logs().splitlines() if " applied " in line and correlation in line]
    assert lines, worker.logs()
    return lines[0]


def test_on_publish_and_handling_join_the_stored_trace_and_the_next_event_continues_it(
        make_ledger: Any) -> None:
    receiver = OtlpReceiver().start()
    try:
        ledger = make_ledger()
        thing, echo = ledger.model.type_name(), f"{ledger.prefix}.echo.v1"
        _produce(ledger, "corr-traced")
        with ledger.db.session(write=True) as session:  # as a traced request would have written it
            session.execute(update(OUTBOX).values(
                traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01", tracestate="flotilla=test"))
        conn, tap = _tap(ledger, thing)
        worker = ledger.start_worker(LEDGER_ECHO="1", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
                                     OTEL_BSP_SCHEDULE_DELAY="50").wait_ready()

        def spans() -> dict[str, Any] | None:
            found = {s.name: s for s in receiver.spans if s.trace_id == TRACE_ID}
            wanted = {f"publish {thing}", f"process {thing}", f"publish {echo}"}
            return found if wanted <= set(found) else None
        found = wait_for(spans, timeout=20, interval=0.1, what="the hop's spans")
        publish, process, next_publish = (found[f"publish {thing}"], found[f"process {thing}"],
                                          found[f"publish {echo}"])
        assert {s.service for s in found.values()} == {f"{ledger.service}-worker"}
        assert (publish.kind, publish.parent_span_id) == (PRODUCER, PARENT_ID)
        assert (process.kind, process.parent_span_id) == (CONSUMER, publish.span_id)
        assert (next_publish.kind, next_publish.parent_span_id) == (PRODUCER, process.span_id)

        sent = wait_for(lambda: _taken(conn, tap), timeout=10, what="the message on the tap")
        conn.close()
        assert sent.headers["traceparent"] == f"00-{TRACE_ID}-{publish.span_id}-01"
        assert sent.headers["tracestate"] == "flotilla=test"
        rows = dict((event_type, parent) for event_type, parent, _ in _stored(ledger))
        assert rows[echo] == f"00-{TRACE_ID}-{process.span_id}-01"
        line = _applied_line(worker, "corr-traced")
        assert f"[corr-traced {TRACE_ID}]" in line, line
        assert receiver.rejected == 0
    finally:
        receiver.stop()


def test_off_no_header_no_stored_context_and_the_correlation_id_on_the_lines(make_ledger: Any) -> None:
    ledger = make_ledger()
    thing = ledger.model.type_name()
    conn, tap = _tap(ledger, thing)
    _produce(ledger, "corr-plain")
    clean = {k: "" for k in os.environ if k.startswith("OTEL_")}
    worker = ledger.start_worker(LEDGER_ECHO="1", **clean).wait_ready()
    wait_for(lambda: ledger.applied() == (1, 1) and ledger.unsent() == 0, timeout=20,
             what="the event applied and the echo sent")
    sent = wait_for(lambda: _taken(conn, tap), timeout=10, what="the message on the tap")
    conn.close()
    assert sent.headers is None
    assert [(parent, state) for _, parent, state in _stored(ledger)] == [(None, None), (None, None)]
    line = _applied_line(worker, "corr-plain")
    assert re.search(r"\[corr-plain -\] ", line), line
