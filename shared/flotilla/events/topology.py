"""Exchange and queues, declared idempotently by every worker when it starts.

- ``flotilla.events``: one durable topic exchange; routing key = event type.
- ``<svc>``: the service's durable quorum queue, bound to the types it handles. A
  delivery limit dead-letters a message that keeps crashing the consumer process
  into the parking queue.
- ``<svc>.retry.<ms>ms``: a delay queue per back-off step; messages wait out the TTL
  and are dead-lettered back to ``<svc>`` through the default exchange.
- ``<svc>.dlq``: the parking queue (quorum), after the configured attempts or at once
  for an unreadable message; the last error travels in the headers.

Queue arguments never depend on settings that may change (a redeclare with other
arguments fails), which is why the TTL is part of a delay queue's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

if TYPE_CHECKING:
    from flotilla.events.registry import EventRegistry

EXCHANGE = "flotilla.events"
#: Redeliveries (consumer crashes, not handler errors) before the broker parks a message.
CRASH_DELIVERY_LIMIT = 20

# Headers the consumer reads and writes.
ATTEMPT = "x-flotilla-attempt"
LAST_ERROR = "x-flotilla-last-error"
ORIGINAL_KEY = "x-flotilla-routing-key"
PARKED_AT = "x-flotilla-parked-at"


def main_queue(service: str) -> str:
    return service


def parking_queue(service: str) -> str:
    return f"{service}.dlq"


def delay_queue(service: str, delay_ms: int) -> str:
    return f"{service}.retry.{delay_ms}ms"


def declare_exchange(channel: BlockingChannel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


def declare_service(channel: BlockingChannel, service: str, routing_keys: Iterable[str],
                    delays_ms: Iterable[int]) -> None:
    """Everything ``service`` consumes from; safe to run again and from several workers."""
    declare_exchange(channel)
    parked = parking_queue(service)
    channel.queue_declare(parked, durable=True, arguments={"x-queue-type": "quorum"})
    main_args: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-delivery-limit": CRASH_DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": parked,
    }
    channel.queue_declare(main_queue(service), durable=True, arguments=main_args)
    for delay in sorted(set(delays_ms)):
        channel.queue_declare(delay_queue(service, delay), durable=True, arguments={
            "x-message-ttl": delay,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": main_queue(service),
        })
    for key in routing_keys:
        channel.queue_bind(main_queue(service), EXCHANGE, routing_key=key)


def declare_consumers(channel: BlockingChannel, registries: Iterable[EventRegistry]) -> list[str]:
    """Every consuming service's main and parking queue, bound to the types it handles.

    A relay runs this before it publishes, so an event is queued for a consumer whose worker
    has not started yet instead of being dropped unrouted. Delay queues are left to each
    consumer (their TTLs are its settings); the main queue's arguments are fixed, so this
    and the consumer's own declaration agree.
    """
    declared = []
    for registry in registries:
        if registry.consumed:
            declare_service(channel, registry.service, registry.routing_keys, ())
            declared.append(registry.service)
    return declared


def declare_platform(url: str, registries: Iterable[EventRegistry], timeout: float = 10.0) -> list[str]:
    """:func:`declare_consumers` on a connection of its own (closed afterwards)."""
    params = pika.URLParameters(url)
    params.socket_timeout = params.blocked_connection_timeout = timeout
    conn = pika.BlockingConnection(params)
    try:
        return declare_consumers(conn.channel(), registries)
    finally:
        conn.close()
