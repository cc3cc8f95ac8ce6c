"""Operating the parking queue: list, replay and purge ``<svc>.dlq``.

Listing reads messages without acknowledging them and closes the channel, which
puts them back. Replay republishes a parked message to the service's main queue
(through the default exchange, so only this service sees it again) with its attempt
count reset, waits for the broker's confirm, then removes it from the parking queue.

:class:`WorkerOps` is what the worker's own HTTP server offers admins of these
(``/ops/dlq``, ``/ops/outbox``: :mod:`flotilla.events.server`), for the operator console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from flotilla.events import topology as topo
from flotilla.events.outbox import Backlog, backlog

if TYPE_CHECKING:
    from flotilla.events.worker import WorkerSpec


@dataclass(frozen=True)
class Parked:
    message_id: str | None
    event_type: str | None
    attempts: int
    last_error: str
    parked_at: str

    @classmethod
    def from_props(cls, props: pika.BasicProperties) -> Parked:
        headers = props.headers or {}
        return cls(props.message_id, props.type or headers.get(topo.ORIGINAL_KEY),
                   int(headers.get(topo.ATTEMPT, 1)), str(headers.get(topo.LAST_ERROR, "")),
                   str(headers.get(topo.PARKED_AT, "")))


@contextmanager
def _channel(url: str, service: str) -> Iterator[tuple[BlockingChannel, int]]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        declared = channel.queue_declare(topo.parking_queue(service), durable=True,
                                         arguments={"x-queue-type": "quorum"})
        yield channel, int(declared.method.message_count)
    finally:
        if conn.is_open:
            conn.close()  # anything fetched and not acked goes back to the queue


Visitor = Callable[[BlockingChannel, Any, pika.BasicProperties, bytes], None]


def _walk(url: str, service: str, limit: int | None, visit: Visitor, *, confirm: bool = False) -> None:
    """Fetch (without ack) up to ``limit`` of the messages parked now and show each to ``visit``."""
    with _channel(url, service) as (channel, count):
        if confirm:
            channel.confirm_delivery()  # a replay is confirmed before the original is removed
        for _ in range(count if limit is None else min(count, limit)):
            method, props, body = channel.basic_get(topo.parking_queue(service), auto_ack=False)
            if method is None:
                break
            visit(channel, method, props, body)


def list_parked(url: str, service: str, limit: int = 100) -> list[Parked]:
    found: list[Parked] = []
    _walk(url, service, limit, lambda _ch, _m, props, _b: found.append(Parked.from_props(props)))
    return found


def replay_parked(url: str, service: str, message_ids: set[str] | None = None) -> int:
    """Send parked messages (all, or those with ``message_ids``) back to the main queue."""
    replayed = 0

    def visit(channel: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes) -> None:
        nonlocal replayed
        if message_ids is not None and props.message_id not in message_ids:
            return
        headers = {k: v for k, v in (props.headers or {}).items() if k != "x-death"}
        headers[topo.ATTEMPT] = 1
        headers["x-flotilla-replayed-error"] = headers.pop(topo.LAST_ERROR, "")
        copy = pika.BasicProperties(content_type=props.content_type, delivery_mode=2,
                                    message_id=props.message_id, type=props.type, headers=headers)
        channel.basic_publish("", topo.main_queue(service), body, copy, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        replayed += 1

    _walk(url, service, None, visit, confirm=True)
    return replayed


def purge_parked(url: str, service: str) -> int:
    with _channel(url, service) as (channel, _count):
        return int(channel.queue_purge(topo.parking_queue(service)).method.message_count)


def count_parked(url: str, service: str) -> int:
    with _channel(url, service) as (_unused, count):
        return count


@dataclass(frozen=True)
class WorkerOps:
    """What the worker's ``/ops/*`` endpoints operate: the same calls as ``<svc>-worker dlq|outbox``."""

    service: str
    amqp_url: str
    #: Only a service that consumes events has a parking queue.
    consumes: bool
    #: The outbox backlog, when the service has an outbox.
    backlog: Callable[[], Backlog] | None = None

    @classmethod
    def for_spec(cls, spec: WorkerSpec) -> WorkerOps:
        outbox = spec.outbox
        return cls(spec.service, spec.settings.amqp_url, bool(spec.registry.consumed),
                   (lambda: backlog(spec.db, outbox)) if outbox is not None else None)
