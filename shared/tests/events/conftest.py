"""Fixtures for the event backbone: a ledger service per test on the session's RabbitMQ."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select

from flotilla.db import Database
from flotilla.events import Outbox
from flotilla.testing import free_port, metric_value, wait_for
from flotilla.testing.rabbitmq import RabbitMQServer

LEDGER_PATH = Path(__file__).with_name("ledger.py")


def _load_ledger() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flotilla_test_ledger", LEDGER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ledger = _load_ledger()


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="ledger-worker-", suffix=".log", dir=log_dir)[1])
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(LEDGER_PATH), "run"],
                                         env={**env, "WORKER_PORT": str(self.port)},
                                         stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout: float = 30) -> WorkerProcess:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}:\n{self.logs()}")
            return self.get("/health/ready")[0] == 200

        wait_for(ready, timeout=timeout, interval=0.1, what="worker readiness")
        return self

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include ``labels``."""
        return metric_value(self.get("/metrics")[1], name, **labels)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


class Ledger:
    """One test's service: its own name, routing keys, database and worker processes."""

    def __init__(self, broker: RabbitMQServer, database_url: str, tmp_path: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.broker, self.tmp_path = broker, tmp_path
        self.service, self.prefix = f"ledger-{tag}", f"test{tag}"
        self.db = Database(database_url)
        ledger.metadata.create_all(self.db.engine)
        self.registry, self.model = ledger.make_registry(self.service, self.prefix)
        self.env = {**os.environ, "AMQP_URL": broker.url, "LEDGER_SERVICE": self.service,
                    "LEDGER_PREFIX": self.prefix, "LEDGER_DATABASE_URL": database_url,
                    "EVENTS_RETRY_DELAYS_MS": "100,200", "EVENTS_RELAY_IDLE_SECONDS": "0.05",
                    "EVENTS_RECONNECT_MAX_SECONDS": "1", "LOG_FORMAT": "console"}
        self.workers: list[WorkerProcess] = []

    def start_worker(self, **env: str) -> WorkerProcess:
        worker = WorkerProcess({**self.env, **env}, self.tmp_path)
        self.workers.append(worker)
        return worker

    def produce(self, count: int, aggregates: int = 10, start: int = 0) -> None:
        """Commit ``count`` events in one transaction, as a use case would."""
        with self.db.session(write=True) as session:
            box = Outbox(session, ledger.outbox, self.registry.source)
            for i in range(start, start + count):
                box.add(self.model(n=i), aggregate_id=f"agg-{i % aggregates}")

    def applied(self) -> tuple[int, int]:
        """(rows applied, distinct messages applied)."""
        t = ledger.applied
        with self.db.session() as session:
            query = select(func.count(), func.count(t.c.message_id.distinct()))
            rows, distinct = session.execute(query).one()
        return int(rows), int(distinct)

    def unsent(self) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).where(ledger.outbox.c.sent_at.is_(None))) or 0)

    def cli(self, *args: str, **env: str) -> str:
        result = subprocess.run([sys.executable, str(LEDGER_PATH), *args], env={**self.env, **env},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def close(self) -> None:
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.stop(signal.SIGKILL)
        self.db.dispose()


@pytest.fixture
def make_ledger(rabbitmq_server: RabbitMQServer, tmp_path: Path) -> Iterator[Any]:
    made: list[Ledger] = []

    def make(database_url: str | None = None) -> Ledger:
        made.append(Ledger(rabbitmq_server, database_url or f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path))
        return made[-1]

    yield make
    for item in made:
        item.close()
