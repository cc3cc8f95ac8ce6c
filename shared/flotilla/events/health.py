"""A readiness check for the broker: an AMQP handshake that must finish within a second or two."""

from __future__ import annotations

from collections.abc import Callable

import pika
import pika.exceptions


def broker_check(url: str, timeout: float = 2.0) -> Callable[[], None]:
    def check() -> None:
        params = pika.URLParameters(url)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        params.stack_timeout = timeout
        params.connection_attempts = 1
        try:
            pika.BlockingConnection(params).close()
        except pika.exceptions.AMQPError as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ConnectionError(f"no AMQP handshake with {params.host}:{params.port} ({detail})") from exc

    return check
