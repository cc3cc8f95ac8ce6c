"""The outbox relay: unsent rows -> broker (with confirms) -> ``sent_at``.

On PostgreSQL a batch is claimed with ``FOR UPDATE SKIP LOCKED`` and the locks are
held until the confirmed rows are marked, so several relays share the work without
publishing a row twice. To keep per-aggregate order across relays, a relay leaves
alone an aggregate whose older unsent row another relay holds. Within a batch rows go
out in ``id`` order on one channel, and only the confirmed prefix of each aggregate
is marked sent: the rest is published again later (consumers drop the duplicates).
On SQLite (a single writer by design) the batch is read, published, then marked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pika.exceptions
from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from flotilla import tracing
from flotilla.db import Database, utcnow
from flotilla.events import topology
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.publisher import ConfirmingPublisher, Outgoing, PublishError
from flotilla.events.registry import EventRegistry, installed_registries
from flotilla.events.settings import EventSettings
from flotilla.unit_of_work import sqlite_writer

log = logging.getLogger(__name__)

BeforePublish = Callable[[Sequence[Row[Any]]], None]


class Relay:
    def __init__(self, db: Database, table: Table, settings: EventSettings, metrics: WorkerMetrics,
                 *, before_publish: BeforePublish | None = None,
                 start_after: threading.Event | None = None,
                 consumers: Sequence[EventRegistry] | None = None) -> None:
        self.db, self.table, self.settings, self.metrics = db, table, settings, metrics
        self.before_publish = before_publish
        #: Set once this worker's own queues exist, so its first events are not dropped unrouted.
        self.start_after = start_after
        self.publisher = ConfirmingPublisher(settings.amqp_url, heartbeat=settings.heartbeat_s)
        #: Whose queues to declare before publishing (default: every installed service's).
        self.consumers = consumers
        self.topology_declared = False

    @property
    def connected(self) -> bool:
        return self.publisher.is_ready

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, reconnecting with back-off."""
        backoff = 0.2
        while self.start_after is not None and not self.start_after.wait(0.2):
            if stop.is_set():
                return
        while not stop.is_set():
            try:
                if not self.topology_declared:
                    self.declare_topology()
                if not self.publisher.is_ready:
                    self.publisher.connect()
                    log.info("relay connected")
                    backoff = 0.2
                if self.relay_once() == 0:
                    self.publisher.idle(self.settings.relay_idle_s)
            except (PublishError, SQLAlchemyError, OSError, pika.exceptions.AMQPError) as exc:
                log.warning("relay: %r; retrying in %.1fs", exc, backoff)
                self.publisher.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.reconnect_max_s)
        self.publisher.close()

    def declare_topology(self) -> None:
        """Declare every consumer's queue and bindings (from the event registries) once, before
        the first publish: an event is never dropped for want of a queue on a fresh broker."""
        consumers = self.consumers if self.consumers is not None else installed_registries()
        declared = topology.declare_platform(self.settings.amqp_url, consumers)
        self.topology_declared = True
        log.info("relay: queues declared for %s", ", ".join(declared) or "no consumer")

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were marked sent."""
        if self.db.is_sqlite:
            with self.db.session() as session:
                rows = self._claim(session, lock=False)
            if not rows:
                return 0
            results = self._publish(rows)
            with sqlite_writer(self.db), self.db.session(write=True) as session:
                return self._mark(session, rows, results)
        with self.db.session(write=True) as session:
            rows = self._claim(session, lock=True)
            if not rows:
                return 0
            return self._mark(session, rows, self._publish(rows))

    def _claim(self, session: Session, *, lock: bool) -> list[Row[Any]]:
        c = self.table.c
        stmt = (select(c.id, c.message_id, c.event_type, c.aggregate_id, c.envelope, c.traceparent,
                       c.tracestate)
                .where(c.sent_at.is_(None)).order_by(c.id).limit(self.settings.relay_batch))
        if not lock:
            return list(session.execute(stmt))
        rows: list[Row[Any]] = list(session.execute(stmt.with_for_update(skip_locked=True)))
        first: dict[str, int] = {}
        for row in rows:
            first.setdefault(row.aggregate_id, row.id)
        oldest = (select(c.aggregate_id, func.min(c.id)).where(c.sent_at.is_(None))
                  .where(c.aggregate_id.in_(first)).group_by(c.aggregate_id))
        held_elsewhere = {agg for agg, min_id in session.execute(oldest) if min_id < first[agg]}
        return [row for row in rows if row.aggregate_id not in held_elsewhere]

    def _publish(self, rows: Sequence[Row[Any]]) -> list[bool]:
        if self.before_publish is not None:
            self.before_publish(rows)
        if not tracing.enabled():
            messages = [Outgoing(r.event_type, r.envelope.encode(), r.message_id) for r in rows]
            results = self.publisher.publish_batch(messages, self.settings.confirm_timeout_s)
            self.metrics.published.inc(sum(results))
            return results
        # Each row in a producer span, child of the context it was written in, ended once the
        # broker has confirmed (or not); the span's context travels in the message headers.
        spans, messages = [], []
        for r in rows:
            span, headers = tracing.start_publish(r.event_type, r.message_id, self.publisher.exchange,
                                                  r.traceparent, r.tracestate)
            spans.append(span)
            messages.append(Outgoing(r.event_type, r.envelope.encode(), r.message_id, headers))
        results = [False] * len(rows)
        try:
            results = self.publisher.publish_batch(messages, self.settings.confirm_timeout_s)
        finally:
            for span, confirmed in zip(spans, results, strict=True):
                tracing.end_publish(span, confirmed)
        self.metrics.published.inc(sum(results))
        return results

    def _mark(self, session: Session, rows: Sequence[Row[Any]], results: Sequence[bool]) -> int:
        broken: set[str] = set()
        sent: list[int] = []
        for row, acked in zip(rows, results, strict=True):
            if acked and row.aggregate_id not in broken:
                sent.append(row.id)
            elif not acked:
                broken.add(row.aggregate_id)
        if sent:
            session.execute(update(self.table).where(self.table.c.id.in_(sent)).values(sent_at=utcnow()))
        if len(sent) < len(rows):
            log.warning("relay: %d of %d rows left unsent (not confirmed)", len(rows) - len(sent), len(rows))
        return len(sent)
