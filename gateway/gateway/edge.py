"""Requests the gateway refuses before anything else: it is not an open proxy.

Absolute-form request targets, odd ``Host`` values, dot segments, empty segments,
encoded slashes or backslashes and control characters end here with 400.
"""

from __future__ import annotations

import re

from flask import request

from flotilla.problems import Problem

_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_BAD_ENCODED = re.compile(r"%(2f|5c|2e|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


def _bad(detail: str) -> Problem:
    return Problem(400, detail, title="Bad request", slug="bad-request")


def check_request(allowed_hosts: list[str]) -> None:
    req = request._get_current_object()  # type: ignore[attr-defined]  # bound once, not seven times
    environ = req.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or req.full_path
    if not raw.startswith("/") or raw.startswith("//"):
        raise _bad("Only origin-form request targets are accepted (no absolute URLs).")
    host = req.headers.get("Host", "")
    if not _HOST.match(host):
        raise _bad("The Host header is not a host name.")
    if allowed_hosts and host.rsplit(":", 1)[0].lower() not in allowed_hosts:
        raise _bad("This gateway does not serve that host.")
    raw_path = raw.split("?", 1)[0]
    path = req.path
    if _BAD_ENCODED.search(raw_path) or _CONTROL.search(path):
        raise _bad("The path contains encoded separators or control characters.")
    segments = path.split("/")[1:]
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        raise _bad("The path is not normalised (dot or empty segments).")
