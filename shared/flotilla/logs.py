"""Logging set-up: JSON lines for machines, a readable format for humans.

Every record carries ``request_id`` (``-`` outside a request) through a filter
on the handler, so library loggers get it too.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from flotilla.context import current_request_id

CONSOLE_FORMAT = "%(asctime)s %(levelname)-5s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


def configure_logging(level: str = "INFO", fmt: str = "json", service: str | None = None) -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
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
