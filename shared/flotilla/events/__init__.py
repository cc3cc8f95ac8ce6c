"""Flotilla's event backbone on RabbitMQ: envelope, outbox, relay, consumer, worker.

A producing service adds :func:`outbox_table` to its metadata and writes events with
:class:`Outbox` inside its unit of work; a consuming service adds :func:`inbox_table`
and registers handlers on its :class:`EventRegistry`. Its ``worker`` module builds a
:class:`WorkerSpec`, and :func:`flotilla.events.cli.worker_cli` makes the
``<svc>-worker`` command from it.
"""

from flotilla.events.envelope import Envelope, Event
from flotilla.events.inbox import inbox_table
from flotilla.events.outbox import Outbox, outbox_table
from flotilla.events.registry import EventRegistry
from flotilla.events.settings import EventSettings

__all__ = ["Envelope", "Event", "EventRegistry", "EventSettings", "Outbox", "inbox_table",
           "outbox_table"]
