"""Outbox relay throughput with publisher confirms, as a ratio to plain pika publishing.

One RabbitMQ node (the test harness), one durable quorum queue bound to the routing key,
the same 600-byte CloudEvents body for every message. Rows, side by side in one run:

- plain pika, no confirms: ``BlockingConnection.basic_publish`` in a loop (fire and forget);
- pika, a blocking confirm per message: ``BlockingChannel.confirm_delivery()`` (the naive way);
- pipelined confirms, no database: our ``ConfirmingPublisher`` in batches;
- the relay on SQLite and on PostgreSQL: claim a batch, publish, wait for confirms, mark sent.

The machine is shared and small, so the methods run interleaved for BENCH_ROUNDS rounds
(default 3) and each row reports its median round.
Settings: BENCH_EVENTS (default 10000), BENCH_BATCH (default 500).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import pika
from sqlalchemy import MetaData, update

from flotilla.db import Database
from flotilla.events import Event, Outbox, outbox_table
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.publisher import ConfirmingPublisher, Outgoing
from flotilla.events.relay import Relay
from flotilla.events.settings import EventSettings
from flotilla.events.topology import EXCHANGE
from flotilla.testing.postgres import PostgresServer
from flotilla.testing.rabbitmq import RabbitMQServer

KEY = "bench.tick.v1"
QUEUE = "bench-relay"


class Tick(Event):
    event_name = "bench.tick"
    n: int
    note: str


def _fill(db: Database, count: int) -> object:
    table = outbox_table(MetaData())
    table.metadata.create_all(db.engine)
    with db.session(write=True) as session:
        box = Outbox(session, table, "/flotilla/bench")
        for n in range(count):
            box.add(Tick(n=n, note="x" * 300), aggregate_id=f"agg-{n % 100}")
    return table


def _timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> dict[str, Any]:
    count = int(os.environ.get("BENCH_EVENTS", "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    batch = int(os.environ.get("BENCH_BATCH", "500"))
    broker, pg = RabbitMQServer().start(), PostgresServer().start()
    conn = pika.BlockingConnection(pika.URLParameters(broker.url))
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(QUEUE, EXCHANGE, routing_key=KEY)
    body = Tick(n=0, note="x" * 300).model_dump_json().encode().ljust(600)
    props = pika.BasicProperties(content_type="application/cloudevents+json", delivery_mode=2)

    def drain() -> None:  # every row starts from an empty queue
        channel.queue_purge(QUEUE)

    def plain() -> None:
        for _ in range(count):
            channel.basic_publish(EXCHANGE, KEY, body, props)
        channel.queue_declare(QUEUE, passive=True)  # a round trip: everything was written

    def blocking_confirms() -> None:
        confirming = conn.channel()
        confirming.confirm_delivery()
        for _ in range(count // 10):  # a tenth of the events: it is that slow
            confirming.basic_publish(EXCHANGE, KEY, body, props)
        confirming.close()

    def pipelined() -> None:
        publisher = ConfirmingPublisher(broker.url)
        publisher.connect()
        messages = [Outgoing(KEY, body, str(i)) for i in range(count)]
        for start in range(0, count, batch):
            assert all(publisher.publish_batch(messages[start:start + batch], 30))
        publisher.close()

    def relay_on(url: str) -> Callable[[], None]:
        db = Database(url)
        table = _fill(db, count)
        settings = EventSettings(amqp_url=broker.url, relay_batch=batch)
        relay = Relay(db, table, settings, WorkerMetrics("bench"))  # type: ignore[arg-type]

        def run() -> None:
            with db.session(write=True) as session:  # every round relays the same rows afresh
                session.execute(update(table).values(sent_at=None))  # type: ignore[arg-type]
            relay.publisher.connect()
            sent = 0
            while sent < count:
                sent += relay.relay_once()
            relay.publisher.close()

        return run

    try:
        methods = (
            ("plain pika, no confirms", count, plain),
            ("pika, one blocking confirm per message", count // 10, blocking_confirms),
            ("pipelined confirms (ConfirmingPublisher)", count, pipelined),
            ("outbox relay, SQLite", count, relay_on(f"sqlite:///{broker.root / 'bench.db'}")),
            ("outbox relay, PostgreSQL", count, relay_on(pg.create_database())),
        )
        times: dict[str, list[float]] = {name: [] for name, _, _ in methods}
        for _ in range(rounds):
            for name, _, run in methods:
                drain()
                times[name].append(_timed(run))
        rows = [(name, n, statistics.median(times[name])) for name, n, _ in methods]
    finally:
        conn.close()
        broker.close()
        pg.stop()
    base = rows[0][1] / rows[0][2]
    print(f"{count} events of {len(body)} bytes, batch {batch}, median of {rounds} interleaved rounds, "
          f"one RabbitMQ node, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    print(f"{'method':45} {'events':>7} {'seconds':>8} {'events/s':>9} {'vs plain':>9}")
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"{name:45} {n:7d} {seconds:8.2f} {rate:9.0f} {rate / base:9.2f}")
    per_s = {name: round(n / seconds) for name, n, seconds in rows}
    plain_rate = per_s["plain pika, no confirms"]
    return {"events": count, "batch": batch, "rounds": rounds, "events_per_s": per_s,
            "ratios": {"relay SQLite / plain": round(per_s["outbox relay, SQLite"] / plain_rate, 3),
                       "relay PostgreSQL / plain": round(per_s["outbox relay, PostgreSQL"] / plain_rate, 3),
                       "pipelined / plain": round(per_s["pipelined confirms (ConfirmingPublisher)"]
                                                  / plain_rate, 3)}}
