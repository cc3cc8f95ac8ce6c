"""A TCP fault proxy on loopback with Toxiproxy's semantics, for fault tests.

``FaultProxy(host, port)`` listens on a free loopback port and forwards every
connection to ``host:port``. Faults ("toxics", as Toxiproxy calls them) can be set and
cleared while connections are open; each one applies to the data that flows after it is
set:

- ``latency(ms, jitter_ms)``: every chunk is held ``ms`` +/- ``jitter_ms`` before it is
  forwarded (order is kept);
- ``bandwidth(kb_per_s)``: the stream is paced to that many kilobytes a second;
- ``down()`` / ``up()``: the listener closes (new connections are refused, ECONNREFUSED)
  and open connections are cut; ``up()`` listens again on the same port;
- ``reset(after_ms)``: connections are closed with a TCP RST (the peer sees "connection
  reset by peer"), open ones and new ones, ``after_ms`` after the toxic is set or the
  connection accepted;
- ``timeout(ms)``: data stops getting through (it is dropped); with ``ms > 0`` the
  connection is closed after ``ms``, with ``0`` it stays open, stalled, until cleared;
- ``clear()`` removes every toxic (and brings the proxy up).

``direction`` is ``"downstream"`` (upstream -> client, Toxiproxy's default),
``"upstream"`` (client -> upstream) or ``"both"``. The proxy runs an asyncio loop in a
daemon thread, so it works from synchronous tests; no external binary is needed
(decision 0120).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Literal

from flotilla.testing import free_port

Direction = Literal["downstream", "upstream", "both"]
CHUNK = 16 * 1024


@dataclasses.dataclass(frozen=True)
class Toxics:
    """The faults in force for one direction; replaced whole, read once per chunk."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth_kbps: float = 0.0  # 0 = unlimited
    stalled: bool = False


@dataclasses.dataclass
class ProxyStats:
    accepted: int = 0
    refused_upstream: int = 0
    reset: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0


class _Connection:
    def __init__(self, proxy: FaultProxy, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client_reader = reader
        self.client_writer = writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False

    def abort(self, rst: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client_writer, self.upstream_writer):
            if writer is None:
                continue
            if rst:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """One listening port in front of one upstream ``host:port``."""

    def __init__(self, upstream_host: str, upstream_port: int, *, name: str = "proxy",
                 listen_port: int | None = None, seed: int | None = None) -> None:
        self.name = name
        self.upstream = (upstream_host, upstream_port)
        self.port = listen_port or free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.stats = ProxyStats()
        self._random = random.Random(seed)
        self._toxics: dict[str, Toxics] = {"upstream": Toxics(), "downstream": Toxics()}
        self._reset_after: float | None = None  # seconds, when the reset toxic is set
        self._timeout_close: float | None = None  # seconds, when timeout(ms > 0) is set
        self._connections: set[_Connection] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"faultproxy-{name}",
                                        daemon=True)

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close_all(rst=False, stop_listening=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- toxics ----------------------------------------------------------------------

    def latency(self, ms: float, jitter_ms: float = 0.0,
                direction: Direction = "downstream") -> None:
        self._update(direction, latency_ms=ms, jitter_ms=jitter_ms)

    def bandwidth(self, kb_per_s: float, direction: Direction = "downstream") -> None:
        self._update(direction, bandwidth_kbps=kb_per_s)

    def timeout(self, ms: float = 0.0, direction: Direction = "both") -> None:
        self._update(direction, stalled=True)
        self._timeout_close = ms / 1000 if ms > 0 else None
        if self._timeout_close is not None:
            delay = self._timeout_close
            for conn in list(self._connections):
                self._loop.call_soon_threadsafe(self._loop.call_later, delay, conn.abort, False)

    def reset(self, after_ms: float = 0.0) -> None:
        self._reset_after = after_ms / 1000
        delay = self._reset_after
        for conn in list(self._connections):
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._reset, conn)

    def down(self) -> None:
        self._call(self._close_all(rst=False, stop_listening=True))

    def up(self) -> None:
        if self._server is None:
            self._call(self._listen())

    def clear(self) -> None:
        self._toxics = {"upstream": Toxics(), "downstream": Toxics()}
        self._reset_after = None
        self._timeout_close = None
        self.up()

    @contextmanager
    def fault(self, kind: str, *args: float, **kwargs: float | str) -> Iterator[FaultProxy]:
        """``with proxy.fault("latency", 200): ...`` sets a toxic for the block only."""
        getattr(self, kind)(*args, **kwargs)
        try:
            yield self
        finally:
            self.clear()

    @property
    def connections(self) -> int:
        return len(self._connections)

    # ---- internals -------------------------------------------------------------------

    def _update(self, direction: Direction, **changes: float | bool) -> None:
        names = ("upstream", "downstream") if direction == "both" else (direction,)
        toxics = dict(self._toxics)
        for name in names:
            toxics[name] = dataclasses.replace(toxics[name], **changes)  # type: ignore[arg-type]
        self._toxics = toxics

    def _call(self, coro: Coroutine[object, object, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port,
                                                  reuse_address=True)

    async def _close_all(self, *, rst: bool, stop_listening: bool) -> None:
        if stop_listening and self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.abort(rst)
        self._connections.clear()

    def _reset(self, conn: _Connection) -> None:
        if not conn.closed:
            self.stats.reset += 1
        conn.abort(rst=True)
        self._connections.discard(conn)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        conn = _Connection(self, reader, writer)
        self._connections.add(conn)
        if self._reset_after is not None:
            self._loop.call_later(self._reset_after, self._reset, conn)
        if self._timeout_close is not None:
            self._loop.call_later(self._timeout_close, conn.abort, False)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.stats.refused_upstream += 1
            conn.abort(rst=True)  # Toxiproxy closes the client when the upstream refuses
            self._connections.discard(conn)
            return
        conn.upstream_writer = up_writer
        if conn.closed:
            up_writer.transport.abort()
            return
        conn.tasks = [
            asyncio.ensure_future(self._pump(conn, reader, up_writer, "upstream")),
            asyncio.ensure_future(self._pump(conn, up_reader, writer, "downstream")),
        ]
        await asyncio.gather(*conn.tasks, return_exceptions=True)
        conn.abort(rst=False)
        self._connections.discard(conn)

    async def _pump(self, conn: _Connection, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, direction: str) -> None:
        release_at = 0.0  # latency keeps order: a chunk never overtakes the one before
        try:
            while not conn.closed:
                data = await reader.read(CHUNK)
                if not data:
                    with suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                toxics = self._toxics[direction]
                if toxics.stalled:
                    continue  # dropped, as Toxiproxy's timeout toxic does
                if toxics.latency_ms or toxics.jitter_ms:
                    jitter = self._random.uniform(-toxics.jitter_ms, toxics.jitter_ms)
                    delay = max(0.0, toxics.latency_ms + jitter) / 1000
                    release_at = max(release_at, time.monotonic() + delay)
                    await asyncio.sleep(release_at - time.monotonic())
                if toxics.bandwidth_kbps > 0:
                    step = max(1, int(toxics.bandwidth_kbps * 1024 / 20))  # 50 ms slices
                    for start in range(0, len(data), step):
                        piece = data[start:start + step]
                        writer.write(piece)
                        await writer.drain()
                        await asyncio.sleep(len(piece) / (toxics.bandwidth_kbps * 1024))
                else:
                    writer.write(data)
                    await writer.drain()
                if direction == "upstream":
                    self.stats.bytes_upstream += len(data)
                else:
                    self.stats.bytes_downstream += len(data)
        except (OSError, asyncio.IncompleteReadError):
            conn.abort(rst=False)
