"""A throwaway redis-server (Debian's package) on a free loopback port, no persistence."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from flotilla.testing import free_port, port_open, wait_for


class RedisUnavailable(RuntimeError):
    pass


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server not found: run `make deps` (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.root = Path(tempfile.mkdtemp(prefix="flotilla-redis-"))
        self._cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        log = (self.root / "redis.log").open("wb")
        self._proc = subprocess.Popen(self._cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), timeout=10, what=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
