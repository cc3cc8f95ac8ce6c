"""Downstream failures as local exception types.

A service maps them to HTTP once (see :func:`flotilla.http.handlers.init_app`):
``UpstreamUnavailable`` (and ``CircuitOpen``) -> 503 with ``Retry-After``,
``UpstreamTimeout`` -> 503 in a service, 504 at the gateway.
"""

from __future__ import annotations

import math


class UpstreamError(Exception):
    """Something went wrong calling another service."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


class UpstreamUnavailable(UpstreamError):
    """No instance of ``service`` gave a usable answer; try again after ``retry_after`` seconds."""

    def __init__(self, service: str, detail: str, retry_after: float = 1.0) -> None:
        super().__init__(service, detail)
        self.retry_after = max(1, math.ceil(retry_after))


class UpstreamTimeout(UpstreamUnavailable):
    """The call did not complete within its timeout."""


class CircuitOpen(UpstreamUnavailable):
    """Every instance's breaker is open: the call was not attempted."""


class UpstreamTooLarge(UpstreamError):
    """The upstream's answer was longer than the caller reads (``CallPolicy.max_body``): the
    connection was dropped before the rest arrived, so memory stays bounded."""

    def __init__(self, service: str, limit: int) -> None:
        super().__init__(service, f"answered with a body over {limit} bytes")
        self.limit = limit


class UpstreamStatusError(UpstreamError):
    """The upstream answered with a status the caller did not expect (a 4xx, or a 5xx after retries)."""

    def __init__(self, service: str, status: int, body: object) -> None:
        super().__init__(service, f"answered {status}")
        self.status = status
        self.body = body


class UpstreamNotFound(UpstreamStatusError):
    """The upstream answered 404."""
