"""Start a component as a real process (gunicorn on a free port) for a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from flotilla.testing import free_port, wait_for


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback only)
        return bool(resp.status == 200)


class GunicornProcess:
    """``gunicorn -c python:flotilla.gunicorn_conf <app>`` on 127.0.0.1 and a free port."""

    def __init__(self, app: str, env: Mapping[str, str] | None = None, workers: int = 2,
                 cwd: Path | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="flotilla-gunicorn-", suffix=".log")[1])
        self.metrics_dir = tempfile.mkdtemp(prefix="flotilla-metrics-")
        self._cmd = [sys.executable, "-m", "gunicorn", "-c", "python:flotilla.gunicorn_conf", app]
        self._env = {**os.environ, **(env or {}), "BIND": f"127.0.0.1:{self.port}",
                     "WEB_CONCURRENCY": str(workers), "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/health/live", timeout: float = 30.0) -> GunicornProcess:
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(self._cmd, env=self._env, cwd=self._cwd, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: self._alive() and _answers(self.base_url + ready_path),
                     timeout=timeout, what=f"gunicorn on port {self.port}")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-4000:]}") from None
        return self

    def _alive(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-4000:]}")
        return True

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text()
