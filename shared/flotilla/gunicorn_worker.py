"""A gthread worker that reads each request's head in its poller, never in a pool thread.

gunicorn's gthread worker hands a connection to a pool thread as soon as it is readable; the
thread then blocks reading the rest of the request head. A client that sends its header one
byte a second therefore holds a thread for the whole header, and 16 such clients hold every
thread of 2 workers x 8 threads (docs/decisions/0155-slow-connections.md).

``HeadBufferingThreadWorker`` keeps a new (or kept-alive) connection in the worker's selector,
non-blocking, appending what arrives to a buffer, until the buffer holds a complete head
(an empty line), exceeds the most gunicorn's limits allow, or the client closes. Only then
does a pool thread get the connection, with the buffer given back to the request parser: the
thread parses a head that is already there and runs the application as before (body reading,
keep-alive, errors and limits unchanged). A head not complete within ``header_timeout``
seconds (``GUNICORN_HEADER_TIMEOUT``, default 10) is dropped, as nginx's
``client_header_timeout`` does.

Selected with ``GUNICORN_WORKER_CLASS=flotilla.gunicorn_worker.HeadBufferingThreadWorker``
(the default of ``flotilla.gunicorn_conf``). Written against gunicorn 27.0 (pinned); its test
is services/catalog/tests/e2e/test_slow_connections.py.
"""

from __future__ import annotations

import errno
import os
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers import gthread

from flotilla import gunicorn_errors

HEADER_TIMEOUT = float(os.environ.get("GUNICORN_HEADER_TIMEOUT", "10"))
_CHUNK = 65536


gunicorn_errors.install()  # its 400/414/431 pages as problem+json


class HeadBufferingThreadWorker(gthread.ThreadWorker):
    """gthread, except that request heads are gathered by the poller, not by pool threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heading: deque[Any] = deque()
        cfg = self.cfg
        # The largest head gunicorn's limits let through (request line, fields, CRLFs):
        # past it the parser refuses the request, so the thread that gets it cannot wait long.
        self.max_head = cfg.limit_request_line + cfg.limit_request_fields * (
            cfg.limit_request_field_size + 2) + 4

    # -- where gthread hands a readable connection to a thread, gather its head first --

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = gthread.TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, client_addr):
            # TLS handshakes and HTTP/2 prefaces are not HTTP/1 heads: gthread's own path.
            self.enqueue_req(conn)
            return
        self._gather_head(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection sends its next request: gather that head too."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._gather_head(conn)

    def _gather_head(self, conn: Any) -> None:
        conn.sock.setblocking(False)
        conn.head = bytearray()
        conn.head_done = False
        conn.head_deadline = time.monotonic() + HEADER_TIMEOUT
        self.heading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_readable, conn))

    def _on_head_readable(self, conn: Any, client: Any) -> None:
        try:
            data = conn.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before sending a whole head
            self._stop_gathering(conn)
            self.nr_conns -= 1
            conn.close()
            return
        start = max(0, len(conn.head) - 3)
        conn.head += data
        tail = conn.head[start:]
        if b"\n\r\n" in tail or b"\n\n" in tail or len(conn.head) > self.max_head:
            self._stop_gathering(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _stop_gathering(self, conn: Any) -> None:
        conn.head_done = True
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass

    def handle(self, conn: Any) -> Any:
        """In the pool thread: give the gathered head back to the parser, then serve as gthread."""
        head = getattr(conn, "head", None)
        if head:
            conn.head = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(head))
        return super().handle(conn)

    def _cap_keepalive(self, deadline: float) -> None:
        """A stopping worker gives heads still arriving the same short linger as kept-alive ones."""
        super()._cap_keepalive(deadline)
        for conn in self.heading:
            conn.head_deadline = min(conn.head_deadline, deadline)

    def murder_pending(self) -> None:
        """Also drop connections whose head did not arrive within ``HEADER_TIMEOUT``."""
        super().murder_pending()
        now = time.monotonic()
        while self.heading:
            conn = self.heading[0]
            if conn.head_done:
                self.heading.popleft()
                continue
            if conn.head_deadline > now:
                break
            self.heading.popleft()
            self._stop_gathering(conn)
            self.nr_conns -= 1
            conn.close()
