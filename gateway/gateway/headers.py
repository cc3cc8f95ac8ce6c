"""Headers across the gateway: hop-by-hop ones stripped both ways, X-Forwarded-* and
W3C trace context set on the way in, security headers on the way out."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from flask import Request, Response

from gateway.routes import PUBLIC_PREFIX, public_location

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
#: Never copied to the upstream: we set them ourselves, or they describe this hop only.
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "forwarded",
                              "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                              "x-forwarded-prefix", "x-forwarded-port", "x-real-ip",
                              "traceparent", "x-request-id"}
#: Never copied back: werkzeug/gunicorn set their own, and bodies arrive decoded.
NOT_RETURNED = HOP_BY_HOP | {"content-length", "content-encoding", "server", "date"}

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    listed: set[str] = set()
    for key, value in headers:
        if key.lower() == "connection":
            listed |= {t.strip().lower() for t in value.split(",")}
    return listed


def next_traceparent(incoming: str | None) -> str:
    """Continue the caller's trace with a new span id, or start a new trace.

    Ids from ``random.getrandbits``, as OpenTelemetry's own id generator makes them: they must be
    unique, not secret, and ``secrets`` costs a getrandom system call each (2 % of a request)."""
    found = _TRACEPARENT.match((incoming or "").strip().lower())
    if found and found.group(1) != "0" * 32 and found.group(2) != "0" * 16:
        trace_id, flags = found.group(1), found.group(3)
    else:
        trace_id, flags = f"{random.getrandbits(128) or 1:032x}", "00"
    return f"00-{trace_id}-{random.getrandbits(64) or 1:016x}-{flags}"


def upstream_headers(req: Request, request_id: str, peer: str, trusted_peer: bool) -> dict[str, str]:
    """The headers for the upstream; the incoming X-Forwarded-For chain is kept only when it
    came from a trusted proxy."""
    incoming = list(req.headers.items())
    listed = _connection_listed(incoming)
    drop = NOT_FORWARDED | listed if listed else NOT_FORWARDED
    out = {}
    chain = traceparent = None
    for key, value in incoming:
        lowered = key.lower()
        if lowered not in drop:
            out[key] = value
        elif lowered == "x-forwarded-for" and chain is None:
            chain = value
        elif lowered == "traceparent" and traceparent is None:
            traceparent = value
    chain = chain if trusted_peer else None
    out["X-Forwarded-For"] = f"{chain}, {peer}" if chain else peer
    out["X-Forwarded-Proto"] = req.scheme
    out["X-Forwarded-Host"] = req.host
    out["X-Forwarded-Prefix"] = PUBLIC_PREFIX
    out["X-Request-ID"] = request_id
    out["traceparent"] = next_traceparent(traceparent)
    return out


def client_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = list(upstream)
    drop = NOT_RETURNED | _connection_listed(pairs)
    out = []
    for key, value in pairs:
        if key.lower() in drop:
            continue
        out.append((key, public_location(value) if key.lower() == "location" else value))
    return out


def add_security_headers(response: Response, req: Request) -> Response:
    """The security headers an answer lacks, added in one pass over its headers (werkzeug's
    ``setdefault`` scans them once per header)."""
    headers = response.headers
    present = {key.lower() for key in headers.keys()}
    path = req.path
    for key, value in SECURITY_HEADERS.items():
        if key.lower() not in present:
            headers.add(key, value)
    if path.startswith("/docs"):
        headers["Content-Security-Policy"] = DOCS_CSP
    if req.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", "max-age=31536000")
    if "Authorization" in req.headers:  # an answer for one caller is never kept by a shared cache
        headers["Cache-Control"] = "no-store"
    return response
