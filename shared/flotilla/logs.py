"""Logging set-up: JSON lines for machines, a readable format for humans.

Every record carries ``request_id`` and ``trace_id`` (``-`` when there is none) through a
filter on the handler, so library loggers get them too; JSON lines also carry
``correlation_id``: the request id in a request, the envelope's ``correlationid`` (the
request that started the work) while a consumer handles an event, across every AMQP hop.
"""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

from flotilla.context import current_correlation_id, current_request_id
from flotilla.tracing import current_trace_id

CONSOLE_FORMAT = "%(asctime)s %(levelname)-5s %(name)s [%(request_id)s %(trace_id)s] %(message)s"
JSON_FIELDS = ("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s"
               " %(correlation_id)s")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id and trace id on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        if not getattr(record, "trace_id", None):
            record.trace_id = current_trace_id() or "-"
        if not getattr(record, "correlation_id", None):
            record.correlation_id = current_correlation_id() or "-"
        return True


def configure_logging(level: str = "INFO", fmt: str = "json", service: str | None = None) -> None:
    """Replace the root handlers with one stderr handler in the chosen format.

    Without ``LOG_FORMAT`` in the environment a terminal gets the readable format and
    anything else (a pipe, a file, a container's log) JSON lines."""
    if "LOG_FORMAT" not in os.environ and sys.stderr.isatty():
        fmt = "console"
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "console":
        handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    else:
        static = {"service": service} if service else None
        handler.setFormatter(
            JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "asctime": "time"},
                          static_fields=static)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # gunicorn's and werkzeug's loggers propagate to ours instead of printing twice.
    for name in ("gunicorn.error", "gunicorn.access", "werkzeug"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # pika logs every failed connection step with a traceback (a worker that starts before
    # the broker prints pages); our relay, consumer and readiness check report failures once.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
