"""``<svc>-worker``: the service's consumer and outbox relay in one process.

Each runs on its own thread with its own connection; a small HTTP server answers
``/health/live``, ``/health/ready`` and ``/metrics``. SIGTERM (or SIGINT) sets one
stop flag: the consumer finishes the message in hand, stops consuming and closes;
the relay finishes its batch; then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import SQLAlchemyError

from flotilla import tracing
from flotilla.db import Database
from flotilla.discovery import registration
from flotilla.events.apply import Applier
from flotilla.events.consumer import AfterCommit, Consumer
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.ops import WorkerOps
from flotilla.events.outbox import backlog
from flotilla.events.registry import EventRegistry
from flotilla.events.relay import BeforePublish, Relay
from flotilla.events.retention import purge_history
from flotilla.events.server import WorkerHTTPServer
from flotilla.events.settings import EventSettings

log = logging.getLogger(__name__)


@dataclass
class WorkerSpec:
    """What a service's worker is made of; built by the service's ``worker`` module."""

    registry: EventRegistry
    db: Database
    settings: EventSettings
    outbox: Table | None = None
    inbox: Table | None = None
    after_commit: AfterCommit | None = None
    before_publish: BeforePublish | None = None

    @property
    def service(self) -> str:
        return self.registry.service


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.stop = threading.Event()
        self.metrics = WorkerMetrics(spec.service)
        self.relay: Relay | None = None
        self.consumer: Consumer | None = None
        if spec.registry.consumed:
            if spec.inbox is None:
                raise ValueError(f"{spec.service} consumes events but has no inbox table")
            self.consumer = Consumer(Applier(spec.db, spec.registry, spec.inbox), spec.settings,
                                     self.metrics, after_commit=spec.after_commit)
        if spec.outbox is not None:
            outbox = spec.outbox
            self.relay = Relay(spec.db, outbox, spec.settings, self.metrics,
                               before_publish=spec.before_publish,
                               start_after=self.consumer.declared if self.consumer else None)
            self.metrics.watch_backlog(lambda: backlog(spec.db, outbox))

    def checks(self) -> dict[str, Callable[[], Any]]:
        checks: dict[str, Callable[[], Any]] = {"database": self.spec.db.ping}
        if self.relay is not None:
            checks["relay"] = _require(lambda: self.relay is not None and self.relay.connected, "relay")
        if self.consumer is not None:
            checks["consumer"] = _require(lambda: self.consumer is not None and self.consumer.connected,
                                          "consumer")
        return checks

    def run(self) -> int:
        # Spans of the relay's publishes and the consumer's handling, as "<svc>-worker".
        tracing.configure(f"{self.spec.service}-worker")
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        server = WorkerHTTPServer(self.spec.settings.worker_host, self.spec.settings.worker_port,
                                  self.metrics.registry, self.checks(), ops=WorkerOps.for_spec(self.spec))
        server.start()
        log.info("%s worker: health and metrics on port %d", self.spec.service, server.port)
        deregister = registration.register_worker(self.spec.service, self.spec.settings.worker_host,
                                                  server.port)
        threads = [threading.Thread(target=part.run, args=(self.stop,), name=name)
                   for name, part in (("relay", self.relay), ("consumer", self.consumer)) if part]
        for thread in threads:
            thread.start()
        failed = False
        next_housekeeping = time.monotonic()
        while not self.stop.wait(0.5):
            if not all(t.is_alive() for t in threads):
                log.error("a worker thread died; stopping")
                failed = True
                self.stop.set()
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + self.spec.settings.housekeeping_s
                self._housekeeping()
        for thread in threads:
            thread.join(timeout=60)
        deregister()
        server.stop()
        log.info("%s worker stopped", self.spec.service)
        return 1 if failed else 0


    def _housekeeping(self) -> None:
        spec = self.spec
        try:
            purge_history(spec.db, outbox=spec.outbox, inbox=spec.inbox,
                          older_than=timedelta(hours=spec.settings.retention_hours))
        except SQLAlchemyError as exc:  # the next round tries again
            log.warning("retention: %s", exc)


def _require(probe: Callable[[], bool], what: str) -> Callable[[], None]:
    def check() -> None:
        if not probe():
            raise ConnectionError(f"{what} is not connected to the broker")

    return check
