"""A service worker (``catalog-worker``, ``orders-worker``) as a real process, for the saga tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from flotilla.testing import free_port, metric_value, wait_for

BIN = Path(sys.executable).parent


class WorkerProcess:
    def __init__(self, command: str, env: dict[str, str], log_dir: Path) -> None:
        self.command, self.env, self.log_dir = command, env, log_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"{command}-", suffix=".log", dir=log_dir)[1])

    def spawn(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(BIN / self.command), "run"],
                                         env={**self.env, "WORKER_PORT": str(self.port)},
                                         stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 30) -> WorkerProcess:
        wait_for(self._ready, timeout=timeout, interval=0.1, what=f"{self.command} readiness")
        return self

    def start(self, timeout: float = 30) -> WorkerProcess:
        return self.spawn().wait_ready(timeout)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.command} exited {self.proc.returncode}:\n{self.logs()}")
        return self.get("/health/ready")[0] == 200

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        return metric_value(self.get("/metrics")[1], name, **labels)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        self.terminate()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]
