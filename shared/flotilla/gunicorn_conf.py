"""The gunicorn configuration every Flotilla HTTP process shares.

Use it as ``gunicorn -c python:flotilla.gunicorn_conf 'catalog:create_app()'``.
Settings come from the environment:

``BIND`` (or ``HOST`` + ``PORT``), ``WEB_CONCURRENCY`` (workers),
``GUNICORN_WORKER_CLASS`` (``flotilla.gunicorn_worker.HeadBufferingThreadWorker`` by default:
gthread whose request heads are read by the poller, see docs/decisions/0004-gunicorn-worker-class.md
and 0155-slow-connections.md; ``gthread`` and ``gevent`` also work), ``GUNICORN_THREADS``,
``GUNICORN_TIMEOUT``, ``PROMETHEUS_MULTIPROC_DIR`` (created and emptied at start),
``GUNICORN_PRELOAD_IMPORTS`` (``1`` by default, ``0`` to turn off: the master imports the app's
module before forking, without building the app; see :func:`preload_imports` and
docs/decisions/0170-preloaded-imports.md).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import sys
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


#: Modules the factory or the first requests import on first use, imported in the master with
#: the app's module when it loaded the first one (and the variable that turns them on is set):
#: trigger module, environment variable or None, modules (docs/decisions/0170-preloaded-imports.md).
FIRST_USE_IMPORTS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("httpx", None, ("httpcore",)),  # its transport (httpcore, trio: 5 MiB), made with a client
    ("sqlalchemy", None, ("sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql")),
    ("flotilla.app", "AMQP_URL", ("flotilla.events.health",)),  # the broker check (pika: 5 MiB)
    ("limits", "REDIS_URL", ("redis",)),  # shared rate limits (redis and OTel's SDK: 6 MiB)
)


def on_starting(server: Any) -> None:
    """Start from an empty metrics directory: old files would be counted again; then import
    the app's module, so that every worker shares its pages."""
    path = Path(_metrics_dir)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    preload_imports(server)


def factory_module(app_uri: str | None) -> str | None:
    """The module of a ``module:factory(...)`` app; None for an app object (``module:app``),
    which importing the module would build in the master."""
    module, _, obj = (app_uri or "").partition(":")
    return module if module and "(" in obj else None


def preload_imports(server: Any) -> str | None:
    """Import the app's module (and so its dependencies) in the master, then ``gc.freeze()``:
    the workers forked from it share those pages copy-on-write instead of importing the same
    60-70 MiB each. The app itself (threads, database pools, sockets, metrics) is still
    built in each worker. Not done under gevent/eventlet (they patch modules in the worker,
    which must come first). Returns the module imported, None if none was."""
    uri = getattr(server.app, "app_uri", None) or server.cfg.wsgi_app
    module = factory_module(uri)
    worker = str(getattr(server.cfg, "worker_class_str", ""))
    if (module is None or os.environ.get("GUNICORN_PRELOAD_IMPORTS", "1") == "0"
            or "gevent" in worker or "eventlet" in worker):
        return None
    try:
        # The factory's name too: a service package imports its web module on first use of it
        # (flotilla.lazy), so importing the package alone would leave the web stack unloaded.
        factory = uri.partition(":")[2].partition("(")[0].strip()
        getattr(importlib.import_module(module), factory)
        for trigger, variable, companions in FIRST_USE_IMPORTS:
            if trigger in sys.modules and (variable is None or os.environ.get(variable)):
                for companion in companions:
                    importlib.import_module(companion)
    except Exception:  # each worker imports it again and reports the error as before
        server.log.warning("could not import %s in the master; the workers import it", module,
                           exc_info=True)
        return None
    # Metrics defined at import opened files named after the master's pid; the workers write
    # their own (prometheus_client starts again after a fork) and the master none.
    for mine in Path(_metrics_dir).glob(f"*_{os.getpid()}.db"):
        mine.unlink()
    gc.collect()
    gc.freeze()  # the collector no longer writes into these objects, so their pages stay shared
    return module


#: Seconds a gthread worker's thread waits for a new connection's first bytes before handing
#: it back to the worker's poller (gunicorn's fixed default is 5 s: 8 idle sockets then hold
#: all 8 threads for 5 s each). See docs/decisions/0085-connections.md.
first_data_wait = float(os.environ.get("GUNICORN_FIRST_DATA_WAIT", "0.01"))


def post_worker_init(worker: Any) -> None:
    """Shorten gthread's wait for a new connection's first bytes (idle sockets stall no thread);
    then give back to the system the heap the app's start freed."""
    from gunicorn.workers import gthread

    gthread.DEFAULT_WORKER_DATA_TIMEOUT = first_data_wait
    trim_heap()


def trim_heap() -> bool:
    """``malloc_trim(0)``: glibc keeps the memory a process frees in its heap. Users' start
    hashes two argon2 passwords (19 MiB each): after the first, glibc's mmap threshold rises,
    the second is carved from the heap and its 19 MiB stayed resident in every worker.
    Whether memory was given back (False also where there is no glibc)."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that is gone; its counters stay counted."""
    multiprocess.mark_process_dead(worker.pid)


def when_ready(server: Any) -> None:
    """Register this instance with service discovery (Consul only; a no-op otherwise)."""
    registration.on_ready(server)


def on_exit(server: Any) -> None:
    registration.on_exit(server)
