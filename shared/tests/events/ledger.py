"""A tiny service for the event backbone's tests: it produces and consumes ``<prefix>.thing``.

Run as a worker process: ``python ledger.py [run | dlq list | dlq replay ...]`` with
LEDGER_SERVICE, LEDGER_PREFIX, LEDGER_DATABASE_URL, AMQP_URL and the EVENTS_* settings
in the environment. Its handler appends one row to ``applied`` per application (no
unique key there, so a message applied twice shows up as two rows). Fault switches,
for the crash tests, also come from the environment:

- LEDGER_KILL_AFTER_COMMIT=<marker file>: SIGKILL itself after the first commit, before the ack;
- LEDGER_KILL_BEFORE_PUBLISH=<marker file>: SIGKILL itself after claiming outbox rows;
- LEDGER_BROKEN_FLAG=<file>: the handler fails while this file exists;
- LEDGER_HANDLER_SECONDS=<s>, LEDGER_HANDLING_MARKER=<file>: the handler writes the file, then
  takes this long;
- LEDGER_ECHO=1: the handler also writes a ``<prefix>.echo`` event (nobody consumes it) to the
  outbox, as a saga step writes the next event.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.orm import Session

from flotilla.db import Database
from flotilla.events import Envelope, Event, EventRegistry, Outbox, inbox_table, outbox_table
from flotilla.events.cli import worker_cli
from flotilla.events.settings import EventSettings
from flotilla.events.worker import WorkerSpec
from flotilla.logs import configure_logging

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
applied = Table(
    "applied", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)


class ThingBase(Event):
    n: int
    model_config = ConfigDict(json_schema_extra={"examples": [{"n": 1}]})


def thing_event(prefix: str) -> type[Event]:
    """The event type of one test (its own routing key, so tests never see each other's)."""
    return type("Thing", (ThingBase,), {"event_name": f"{prefix}.thing", "__module__": __name__})


def make_registry(service: str, prefix: str) -> tuple[EventRegistry, type[Event]]:
    registry = EventRegistry(service)
    model = registry.produces(thing_event(prefix))
    echo = registry.produces(type("Echo", (ThingBase,), {"event_name": f"{prefix}.echo",
                                                         "__module__": __name__}))

    @registry.consumes(model)
    def apply_thing(session: Session, envelope: Envelope, event: Any) -> None:
        broken = os.environ.get("LEDGER_BROKEN_FLAG")
        if broken and Path(broken).exists():
            raise RuntimeError("handler broken: the flag file is there")
        if os.environ.get("LEDGER_HANDLER_SECONDS"):
            Path(os.environ["LEDGER_HANDLING_MARKER"]).write_text(envelope.id)
            time.sleep(float(os.environ["LEDGER_HANDLER_SECONDS"]))
        session.execute(insert(applied).values(message_id=envelope.id,
                                               aggregate_id=envelope.subject or "", n=event.n))
        if os.environ.get("LEDGER_ECHO"):
            Outbox(session, outbox, registry.source).add(echo(n=event.n), envelope.subject or "")

    return registry, model


def _kill_once(marker: str | None) -> Any:
    def hook(*_args: object) -> None:
        if marker and not Path(marker).exists():
            Path(marker).write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)

    return hook if marker else None


def build() -> WorkerSpec:
    settings = EventSettings()
    configure_logging("INFO", "console")
    registry, _ = make_registry(os.environ["LEDGER_SERVICE"], os.environ["LEDGER_PREFIX"])
    return WorkerSpec(registry=registry, db=Database(os.environ["LEDGER_DATABASE_URL"]),
                      settings=settings, outbox=outbox, inbox=inbox,
                      after_commit=_kill_once(os.environ.get("LEDGER_KILL_AFTER_COMMIT")),
                      before_publish=_kill_once(os.environ.get("LEDGER_KILL_BEFORE_PUBLISH")))


if __name__ == "__main__":
    worker_cli(build)()
