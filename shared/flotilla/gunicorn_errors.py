"""gunicorn's own error answers (request line too long: 414, headers too large: 431, a
malformed request: 400) as ``application/problem+json`` like every other error, instead of
gunicorn's HTML page. They are written before any application sees the request, so they
carry no request id."""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

from flotilla.problems import PROBLEM_JSON, TYPE_BASE


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"type": TYPE_BASE + reason.lower().replace(" ", "-"), "title": reason,
                       "status": status_int, "detail": mesg}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_JSON}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    """gunicorn's workers call ``gunicorn.util.write_error``: answer with a problem instead."""
    util.write_error = write_problem
