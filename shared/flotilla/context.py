"""The request id of the work in progress, readable from anywhere (logs, clients)."""

from __future__ import annotations

import contextvars
import os
import re

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: While a consumer handles an event: the id of the request that started the work (the
#: envelope's ``correlationid``), carried on across AMQP hops. In a request it is the request id.
_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id",
                                                                              default=None)

#: A caller's X-Request-ID is reused only when it looks like an id, never as log injection.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


def current_correlation_id() -> str | None:
    return _correlation_id.get() or _request_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token[str | None]:
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    _correlation_id.reset(token)


def accept_or_generate(candidate: str | None) -> str:
    """Keep a well-formed id from the caller, otherwise make a new one."""
    if candidate and _ACCEPTABLE_ID.match(candidate):
        return candidate
    return new_request_id()


def new_request_id() -> str:
    """``uuid.uuid4().hex`` without building a ``UUID`` (its constructor is Python code, a
    few microseconds per request): 16 random bytes with the version 4 and RFC 4122 variant
    bits set, as 32 hex digits."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()
