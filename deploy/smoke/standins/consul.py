#!/usr/bin/env python3
"""``consul agent ...``: the kit's fake Consul agent on 0.0.0.0:8500; ``consul members``:
exit 0 when it answers (the compose healthcheck). Stand-in only (deploy/smoke)."""

from __future__ import annotations

import sys
import threading
import urllib.request
from http.server import ThreadingHTTPServer

from flotilla.testing import fake_consul


def agent() -> None:
    fake = fake_consul.FakeConsul()
    fake._server.server_close()  # it bound loopback on a free port; Consul listens on 8500
    fake.port, fake.address = 8500, "0.0.0.0:8500"
    fake._server = ThreadingHTTPServer(("0.0.0.0", 8500), fake_consul._handler_for(fake))  # noqa: S104
    fake._server.daemon_threads = True
    fake.start()
    threading.Event().wait()


def members() -> int:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8500/v1/status/leader", timeout=2) as answer:
            return 0 if answer.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "agent"
    if command == "members":
        sys.exit(members())
    agent()
