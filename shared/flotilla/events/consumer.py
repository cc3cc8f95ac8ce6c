"""The consumer: one delivery at a time, applied once, acknowledged after commit.

pika's ``BlockingConnection`` is used from one thread only; the handler runs on a
second thread while this one keeps pumping the connection, so heartbeats are
answered however long a handler takes. Deliveries (up to ``prefetch``) wait in a
local buffer and are handled in order. Outcomes, decided by :mod:`flotilla.events.apply`:

- applied / duplicate: ack (the inbox row committed with the handler's effect);
- failed: republished to the next delay queue with the attempt count and the error,
  or to ``<svc>.dlq`` after the last attempt; then ack;
- unavailable (the database could not be reached): republished to the delay queue with the
  attempt count unchanged, so an outage however long parks nothing; then ack;
- unreadable: straight to ``<svc>.dlq``; then ack.

Each delivery is logged once (one line: outcome, type, message id) with the envelope's
correlation id as the line's ``request_id`` and ``correlation_id``, so one grep of the
request id that placed an order shows its path through every worker. With tracing on
the delivery is handled in a consumer span continuing the message's ``traceparent``
(:func:`flotilla.tracing.consume_span`); the handler's thread runs in a copy of this
thread's context, so the events it writes carry that span's context on.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError

from flotilla import tracing
from flotilla.context import (
    reset_correlation_id,
    reset_request_id,
    set_correlation_id,
    set_request_id,
)
from flotilla.events import topology as topo
from flotilla.events.apply import Applier, Outcome
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.settings import EventSettings

log = logging.getLogger(__name__)

AfterCommit = Callable[[Outcome], None]
Delivery = tuple[Any, pika.BasicProperties, bytes]


class Consumer:
    def __init__(self, applier: Applier, settings: EventSettings, metrics: WorkerMetrics,
                 *, after_commit: AfterCommit | None = None) -> None:
        self.applier, self.settings, self.metrics = applier, settings, metrics
        self.service = applier.service
        self.after_commit = after_commit
        self.connected = False
        self.declared = threading.Event()  # the queues exist (set once, on first connection)
        self._buffer: collections.deque[Delivery] = collections.deque()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{self.service}-handler")

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, reconnecting with back-off."""
        backoff = 0.2
        while not stop.is_set():
            try:
                self._consume(stop)
                backoff = 0.2
            except (AMQPError, OSError) as exc:
                log.warning("consumer: %r; reconnecting in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.reconnect_max_s)
            finally:
                self.connected = False
                self._buffer.clear()  # unacked: the broker hands them out again
        self._executor.shutdown(wait=True)

    def _consume(self, stop: threading.Event) -> None:
        params = pika.URLParameters(self.settings.amqp_url)
        params.heartbeat = self.settings.heartbeat_s
        conn = BlockingConnection(params)
        try:
            channel = conn.channel()
            topo.declare_service(channel, self.service, self.applier.routing_keys,
                                 self.settings.retry_delays_ms)
            self.declared.set()
            channel.basic_qos(prefetch_count=self.settings.prefetch)
            out = conn.channel()
            out.confirm_delivery()
            channel.basic_consume(topo.main_queue(self.service),
                                  lambda _ch, m, p, b: self._buffer.append((m, p, b)))
            self.connected = True
            log.info("consuming from %s", topo.main_queue(self.service))
            while not stop.is_set():
                conn.process_data_events(time_limit=0.2)
                while self._buffer and not stop.is_set():
                    self._handle(conn, channel, out, self._buffer.popleft())
        finally:
            if conn.is_open:
                conn.close()

    def _handle(self, conn: BlockingConnection, channel: BlockingChannel, out: BlockingChannel,
                delivery: Delivery) -> None:
        method, props, body = delivery
        if not tracing.enabled():
            self._settle(conn, channel, out, delivery, self._executor.submit(self.applier.apply,
                                                                             props.message_id, body))
            return
        # The event type (kept on retries, whose routing key is a delay queue's name).
        with tracing.consume_span(props.headers, topo.main_queue(self.service),
                                  props.type or method.routing_key, props.message_id) as span:
            context = contextvars.copy_context()  # the span, current in the handler's thread too
            future = self._executor.submit(context.run, self.applier.apply, props.message_id, body)
            outcome = self._settle(conn, channel, out, delivery, future)
            tracing.record_outcome(span, outcome.kind, outcome.error)

    def _settle(self, conn: BlockingConnection, channel: BlockingChannel, out: BlockingChannel,
                delivery: Delivery, future: Future[Outcome]) -> Outcome:
        method, props, body = delivery
        while True:
            try:
                outcome = future.result(timeout=0.05)
                break
            except FutureTimeout:  # a slow handler: keep heartbeats (and deliveries) flowing
                conn.process_data_events(time_limit=0)
        request_token = set_request_id(outcome.correlation_id)
        correlation_token = set_correlation_id(outcome.correlation_id)
        try:
            self._decide(out, props, body, method, outcome)
        finally:
            reset_correlation_id(correlation_token)
            reset_request_id(request_token)
        channel.basic_ack(method.delivery_tag)
        return outcome

    def _decide(self, out: BlockingChannel, props: pika.BasicProperties, body: bytes, method: Any,
                outcome: Outcome) -> None:
        if outcome.kind in ("applied", "duplicate"):
            if self.after_commit is not None:
                self.after_commit(outcome)
            self.metrics.consumed(outcome.kind)
            log.info("%s %s %s", outcome.kind, outcome.event_type, outcome.message_id)
        elif outcome.kind == "unreadable":
            self._park(out, props, body, method, outcome.error, attempt=self._attempt(props))
            self.metrics.dead_lettered("unreadable")
        elif outcome.kind == "unavailable":  # the database, not the message: the attempt is not counted
            attempt = self._attempt(props)
            delay = self.settings.delay_before(attempt + 1)
            self._forward(out, topo.delay_queue(self.service, delay), props, body, method,
                          {topo.ATTEMPT: attempt, topo.LAST_ERROR: outcome.error})
            self.metrics.retried.inc()
            log.info("message %s not applied (database unavailable), retry in %d ms", props.message_id, delay)
        else:
            attempt = self._attempt(props)
            if attempt >= self.settings.max_attempts:
                self._park(out, props, body, method, outcome.error, attempt)
                self.metrics.dead_lettered("attempts")
            else:
                delay = self.settings.delay_before(attempt + 1)
                self._forward(out, topo.delay_queue(self.service, delay), props, body, method,
                              {topo.ATTEMPT: attempt + 1, topo.LAST_ERROR: outcome.error})
                self.metrics.retried.inc()
                log.info("message %s failed (attempt %d), retry in %d ms", props.message_id, attempt, delay)

    @staticmethod
    def _attempt(props: pika.BasicProperties) -> int:
        try:
            return max(1, int((props.headers or {}).get(topo.ATTEMPT, 1)))
        except (TypeError, ValueError):
            return 1

    def _park(self, out: BlockingChannel, props: pika.BasicProperties, body: bytes, method: Any,
              error: str, attempt: int) -> None:
        log.warning("parking message %s after %d attempt(s): %s", props.message_id, attempt, error)
        self._forward(out, topo.parking_queue(self.service), props, body, method,
                      {topo.ATTEMPT: attempt, topo.LAST_ERROR: error,
                       topo.PARKED_AT: datetime.now(UTC).isoformat()})

    @staticmethod
    def _forward(out: BlockingChannel, queue: str, props: pika.BasicProperties, body: bytes,
                 method: Any, headers: dict[str, Any]) -> None:
        """Publish a copy to ``queue`` and wait for the broker's confirm (raises on nack)."""
        merged = {**(props.headers or {}), **headers}
        merged.setdefault(topo.ORIGINAL_KEY, method.routing_key)
        merged[topo.LAST_ERROR] = str(merged[topo.LAST_ERROR])[:2000]
        copy = pika.BasicProperties(content_type=props.content_type, delivery_mode=2,
                                    message_id=props.message_id, type=props.type, headers=merged)
        out.basic_publish("", queue, body, copy, mandatory=True)
