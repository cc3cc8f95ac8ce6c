"""A database outage is the database's fault, not the message's: against a real RabbitMQ and a real
PostgreSQL behind the fault proxy, an event that meets an unreachable database is retried without
counting the attempt, so an outage longer than every retry step parks nothing, and the event is
applied once the database is back."""

from __future__ import annotations

import json
import time
import uuid

import pika

from flotilla.events import ops
from flotilla.events.topology import EXCHANGE
from flotilla.testing import wait_for
from flotilla.testing.faultproxy import FaultProxy


def test_an_outage_longer_than_every_retry_parks_nothing_and_the_event_is_applied_after(
        make_ledger, postgres_server):
    database = postgres_server.create_database("outage")
    proxy = FaultProxy("127.0.0.1", postgres_server.port, name="postgres").start()
    try:
        proxied = database.replace(f"127.0.0.1:{postgres_server.port}/", f"127.0.0.1:{proxy.port}/")
        ledger = make_ledger(proxied)
        # two attempts, 100 ms apart: a failing handler would be parked within about 0.2 s
        worker = ledger.start_worker(EVENTS_MAX_ATTEMPTS="2", EVENTS_RETRY_DELAYS_MS="100").wait_ready()
        proxy.down()
        message_id = uuid.uuid4().hex
        envelope = {"specversion": "1.0", "id": message_id, "source": "/outage", "subject": "agg-1",
                    "type": ledger.model.type_name(), "time": "2026-12-02T00:00:00Z", "data": {"n": 7}}
        conn = pika.BlockingConnection(pika.URLParameters(ledger.broker.url))
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(EXCHANGE, ledger.model.type_name(), json.dumps(envelope).encode(),
                              pika.BasicProperties(message_id=message_id))
        conn.close()

        wait_for(lambda: worker.metric("flotilla_events_retried_total") >= 6, timeout=30,
                 what="the event retried three times its attempt limit while the database is down")
        assert ops.list_parked(ledger.broker.url, ledger.service) == []
        assert worker.metric("flotilla_events_dead_lettered_total", reason="attempts") == 0
        time.sleep(0.5)  # still down: still nothing parked
        assert ops.list_parked(ledger.broker.url, ledger.service) == []

        proxy.up()
        wait_for(lambda: ledger.applied() == (1, 1), timeout=30, what="the event applied after the outage")
        assert ops.list_parked(ledger.broker.url, ledger.service) == []
        assert "database unavailable" in worker.logs()
    finally:
        proxy.stop()
