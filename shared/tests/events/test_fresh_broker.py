"""On a fresh broker the relay declares every consumer's queue before publishing: an event whose
consumer has not started yet waits in its queue instead of being dropped unrouted."""

from __future__ import annotations

import threading
import uuid

import pika
from sqlalchemy import MetaData

from flotilla.db import Database
from flotilla.events import Event, EventRegistry, Outbox, outbox_table
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.outbox import backlog
from flotilla.events.relay import Relay
from flotilla.events.settings import EventSettings
from flotilla.testing import wait_for


class Ping(Event):
    event_name = "fresh.pinged"
    n: int


def queued(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def test_events_for_a_consumer_not_yet_started_wait_in_its_queue(rabbitmq_server, tmp_path):
    consumer = EventRegistry(f"fresh-{uuid.uuid4().hex[:8]}")
    consumer.consumes(Ping)(lambda session, envelope, event: None)
    db = Database(f"sqlite:///{tmp_path / 'producer.db'}")
    table = outbox_table(MetaData())
    table.metadata.create_all(db.engine)
    with db.session(write=True) as session:
        box = Outbox(session, table, "/flotilla/producer")
        for n in range(3):
            box.add(Ping(n=n), aggregate_id="p")
    relay = Relay(db, table, EventSettings(amqp_url=rabbitmq_server.url), WorkerMetrics("fresh"),
                  consumers=[consumer])
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: backlog(db, table).unsent == 0, timeout=20, what="the outbox to drain")
    finally:
        stop.set()
        thread.join(10)
        db.dispose()
    assert queued(rabbitmq_server.url, consumer.service) == 3  # none lost before its worker starts
