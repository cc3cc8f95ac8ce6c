"""The gunicorn configuration every Flotilla HTTP process shares.

Use it as ``gunicorn -c python:flotilla.gunicorn_conf 'catalog:create_app()'``.
Settings come from the environment:

``BIND`` (or ``HOST`` + ``PORT``), ``WEB_CONCURRENCY`` (workers),
``GUNICORN_WORKER_CLASS`` (``flotilla.gunicorn_worker.HeadBufferingThreadWorker`` by default:
gthread whose request heads are read by the poller, see docs/decisions/0004-gunicorn-worker-class.md
and 0155-slow-connections.md; ``gthread`` and ``gevent`` also work), ``GUNICORN_THREADS``,
``GUNICORN_TIMEOUT``, ``PROMETHEUS_MULTIPROC_DIR`` (created and emptied at start).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

from flotilla.discovery import registration

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")
bind = os.environ.get("BIND", f"{_host}:{_port}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
#: The one setting that picks how connections are served (docs/decisions/0155-slow-connections.md).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "flotilla.gunicorn_worker.HeadBufferingThreadWorker")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = None  # the apps log each request themselves, with the request id
errorlog = "-"
# Several gunicorns share a machine (every service, every test): one default control
# socket in $HOME would be fought over, and nothing here uses gunicornc.
control_socket_disable = True

# Metrics from every worker go to one directory that /metrics aggregates. It must be
# set before any worker imports prometheus_client, so it is decided here, in the master.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="flotilla-metrics-")
)


def on_starting(server: Any) -> None:
    """Start from an empty metrics directory: old files would be counted again."""
    path = Path(_metrics_dir)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


#: Seconds a gthread worker's thread waits for a new connection's first bytes before handing
#: it back to the worker's poller (gunicorn's fixed default is 5 s: 8 idle sockets then hold
#: all 8 threads for 5 s each). See docs/decisions/0085-connections.md.
first_data_wait = float(os.environ.get("GUNICORN_FIRST_DATA_WAIT", "0.01"))


def post_worker_init(worker: Any) -> None:
    """Shorten gthread's wait for a new connection's first bytes (idle sockets stall no thread)."""
    from gunicorn.workers import gthread

    gthread.DEFAULT_WORKER_DATA_TIMEOUT = first_data_wait


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that is gone; its counters stay counted."""
    multiprocess.mark_process_dead(worker.pid)


def when_ready(server: Any) -> None:
    """Register this instance with service discovery (Consul only; a no-op otherwise)."""
    registration.on_ready(server)


def on_exit(server: Any) -> None:
    registration.on_exit(server)
