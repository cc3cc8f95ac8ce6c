"""Catalog's product events: written with the change, in order, and published by the relay."""

from __future__ import annotations

import json
import uuid

import pika
import pytest
from sqlalchemy import select

from catalog import MIGRATIONS, service
from catalog.events import ProductCreated, ProductDeleted, ProductUpdated
from catalog.model import VersionMismatch
from catalog.repository import UnitOfWork, outbox, start_mappers
from flotilla import migrations
from flotilla.context import reset_request_id, set_request_id
from flotilla.db import Database
from flotilla.events import Envelope
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.relay import Relay
from flotilla.events.settings import EventSettings
from flotilla.events.topology import EXCHANGE
from flotilla.testing import wait_for

FIELDS = {"name": "Kettle", "price_cents": 4900, "currency": "EUR", "stock": 3}


def _db(url: str) -> Database:
    migrations.upgrade(MIGRATIONS, url)
    start_mappers()
    return Database(url)


def _events(db: Database) -> list[Envelope]:
    with db.session() as session:
        rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.id)).scalars()
        return [Envelope.model_validate_json(row) for row in rows]


def test_use_cases_write_their_events_in_the_same_transaction(database_url):
    db = _db(database_url)
    uow = UnitOfWork.factory(db)
    token = set_request_id("req-catalog-1")
    try:
        product = service.create_product(uow, FIELDS)
        service.update_product(uow, product.id, {"price_cents": 5200, "name": "Kettle"})
        with pytest.raises(VersionMismatch):  # refused: no change, no event
            service.update_product(uow, product.id, {"price_cents": 1}, if_match=frozenset({'"v1"'}))
        service.delete_product(uow, product.id)
    finally:
        reset_request_id(token)
    events = _events(db)
    assert [e.type for e in events] == ["product.created.v1", "product.updated.v1", "product.deleted.v1"]
    assert {e.subject for e in events} == {str(product.id)}
    assert all(e.correlationid == "req-catalog-1" and e.source == "/flotilla/catalog" for e in events)
    created = events[0].decode(ProductCreated)
    updated = events[1].decode(ProductUpdated)
    assert (created.price_cents, created.product_version) == (4900, 1)
    assert (updated.price_cents, updated.product_version, updated.changed) == (5200, 2, ["price_cents"])
    assert events[2].decode(ProductDeleted).product_id == product.id
    db.dispose()


def test_the_relay_publishes_catalog_events_to_the_exchange(rabbitmq_server, tmp_path):
    db = _db(f"sqlite:///{tmp_path / 'catalog.db'}")
    uow = UnitOfWork.factory(db)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_server.url))
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    queue = f"catalog-listener-{uuid.uuid4().hex[:6]}"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, EXCHANGE, routing_key="product.*.v1")
    product = service.create_product(uow, FIELDS)
    service.delete_product(uow, product.id)

    relay = Relay(db, outbox, EventSettings(amqp_url=rabbitmq_server.url), WorkerMetrics("catalog"))
    relay.publisher.connect()
    try:
        assert relay.relay_once() == 2 and relay.relay_once() == 0
    finally:
        relay.publisher.close()
    received = []

    def drain() -> bool:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            received.append((method.routing_key, props.message_id, json.loads(body)))
        return len(received) == 2

    wait_for(drain, timeout=10, what="two product events")
    conn.close()
    assert [r[0] for r in received] == ["product.created.v1", "product.deleted.v1"]
    assert all(r[1] == r[2]["id"] and r[2]["data"]["product_id"] == str(product.id) for r in received)
    db.dispose()
