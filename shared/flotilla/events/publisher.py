"""Publishing a batch with publisher confirms, pipelined, on pika's ``SelectConnection``.

``BlockingConnection`` waits for the broker's confirm after every single publish;
here the whole batch is written first and the confirms (often one ``multiple`` ack
for many messages) are collected afterwards. The ``SelectConnection`` I/O loop is
driven synchronously — run until a condition holds or a timeout passes — so the
relay stays a plain loop. Between batches :meth:`idle` keeps the loop (and so the
heartbeats) running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
from pika import spec

from flotilla.events.envelope import CONTENT_TYPE
from flotilla.events.topology import EXCHANGE

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker could not be reached or the channel failed."""


@dataclass(frozen=True)
class Outgoing:
    routing_key: str
    body: bytes
    message_id: str
    #: AMQP headers (the trace context when tracing is on), or none at all.
    headers: dict[str, str] | None = None


class ConfirmingPublisher:
    def __init__(self, url: str, *, heartbeat: int = 30, connect_timeout: float = 10.0,
                 exchange: str = EXCHANGE) -> None:
        self.params = pika.URLParameters(url)
        self.params.heartbeat = heartbeat
        self.params.socket_timeout = connect_timeout
        self.connect_timeout = connect_timeout
        self.exchange = exchange
        self._conn: pika.SelectConnection | None = None
        self._channel: Any = None
        self._state = "closed"
        self._error: object = None
        self._done: Callable[[], bool] | None = None
        self._ioloop: Any = None
        self._pending: dict[int, int] = {}
        self._results: list[bool] = []
        self._next_tag = 1

    @property
    def is_ready(self) -> bool:
        return self._state == "ready"

    def connect(self) -> None:
        self._state, self._error = "connecting", None
        self._conn = pika.SelectConnection(self.params, on_open_callback=self._on_open,
                                           on_open_error_callback=self._on_failed,
                                           on_close_callback=self._on_failed)
        self._run(lambda: self._state != "connecting", self.connect_timeout)
        if self._state != "ready":
            error = self._error or "timed out"
            self.close()
            raise PublishError(f"cannot open a confirming channel: {error}")

    def publish_batch(self, messages: Sequence[Outgoing], timeout: float) -> list[bool]:
        """Publish all, then wait for their confirms; ``True`` per message the broker acked."""
        if not self.is_ready:
            raise PublishError("publisher is not connected")
        self._results, self._pending = [False] * len(messages), {}
        try:
            for index, msg in enumerate(messages):
                props = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2,
                                             message_id=msg.message_id, type=msg.routing_key,
                                             headers=msg.headers or None)
                self._channel.basic_publish(self.exchange, msg.routing_key, msg.body, props)
                self._pending[self._next_tag] = index
                self._next_tag += 1
        except Exception as exc:  # the channel or connection went away mid-batch
            log.warning("publish interrupted: %r", exc)
            self._state = "broken"
        self._run(lambda: not self._pending or not self.is_ready, timeout)
        if self._pending:  # unconfirmed: the channel's state is unknown, start afresh
            log.warning("%d of %d publishes unconfirmed; reconnecting", len(self._pending), len(messages))
            self.close()
        return self._results

    def idle(self, seconds: float) -> None:
        """Let the I/O loop run (heartbeats, close notices) for ``seconds``."""
        if self._conn is not None:
            self._run(lambda: not self.is_ready, seconds)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._state = "closed"
        if conn is None:
            return
        if conn.is_open:
            try:
                conn.close()
                self._run_loop(conn, lambda: conn.is_closed, 5.0)
            except Exception as exc:  # closing a half-dead connection
                log.debug("close: %s", exc)
        self._state = "closed"

    # --- the I/O loop, driven until a condition holds --------------------------------
    def _run(self, done: Callable[[], bool], timeout: float) -> bool:
        if self._conn is None:
            return done()
        return self._run_loop(self._conn, done, timeout)

    def _run_loop(self, conn: pika.SelectConnection, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        ioloop = conn.ioloop
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._done, self._ioloop = done, ioloop
            timer = ioloop.call_later(remaining, ioloop.stop)
            try:
                ioloop.start()
            finally:
                ioloop.remove_timeout(timer)
                self._done = self._ioloop = None
        return True

    def _wake(self) -> None:
        if self._done is not None and self._ioloop is not None and self._done():
            self._ioloop.stop()

    # --- callbacks --------------------------------------------------------------------
    def _on_open(self, conn: pika.SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True,
                                 callback=lambda _frame: channel.confirm_delivery(
                                     self._on_confirm, callback=self._on_select_ok))

    def _on_select_ok(self, _frame: object) -> None:
        self._state, self._next_tag = "ready", 1
        self._wake()

    def _on_failed(self, _conn: object, error: object) -> None:
        self._state, self._error = "broken", error
        self._wake()

    def _on_channel_closed(self, _channel: object, reason: object) -> None:
        self._state, self._error = "broken", reason
        if self._conn is not None and self._conn.is_open:
            self._conn.close()
        self._wake()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, spec.Basic.Ack)
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple \
            else [method.delivery_tag]
        for tag in tags:
            index = self._pending.pop(tag, None)
            if index is not None:
                self._results[index] = acked
        self._wake()
