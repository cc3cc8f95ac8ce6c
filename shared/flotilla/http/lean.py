"""The lean upstream call: urllib3's connection pools under :meth:`ServiceClient.forward`.

Measured on a proxied catalog read (CPU of the calling process per call, 1,000 calls after
warm-up): an ``httpx.Client`` call 2.0 ms; the same call through urllib3 1.0 ms; urllib3
plus building an ``httpx.Response`` from its answer 1.4 ms. httpx spends the difference in
its request, URL and header models, h11's per-header validation and the cookie jar it fills
from every response. The gateway only copies status, headers and body, so it gets a
:class:`LeanResponse` (the few members of ``httpx.Response`` it reads) and keeps httpx for
everything else. See docs/decisions/0135-lean-upstream-call.md.

urllib3's errors are raised as the httpx ones :class:`ServiceClient` already tells apart
(refused, connect timeout, read timeout, a connection that broke), so retries, breakers and
the free retry on a dropped kept-alive connection behave the same on both paths. A pooled
connection the upstream closed while idle is noticed before it is reused (urllib3 checks
each one it takes from the pool).
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)


class BodyTooLarge(Exception):
    """An upstream answer longer than the caller reads."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a body over {limit} bytes")
        self.limit = limit


def _read_at_most(answer: urllib3.BaseHTTPResponse, limit: int | None) -> bytes:
    """The whole body, or :class:`BodyTooLarge` once more than ``limit`` bytes are declared or
    have arrived: the connection is closed then, not drained, so a huge answer costs at most
    ``limit`` bytes of memory."""
    try:
        if limit is None:
            return answer.read()
        declared = answer.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        chunks, size = [], 0
        for chunk in answer.stream(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)
    except BodyTooLarge:
        answer.close()  # drop the connection: the rest of the body is never read
        raise
    finally:
        answer.release_conn()


class LeanHeaders:
    """Case-insensitive view of an answer's headers, duplicates kept (as ``httpx.Headers``)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: urllib3.HTTPHeaderDict) -> None:
        self._raw = raw

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._raw.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self._raw[key]

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._raw.iteritems())


class LeanResponse:
    """An upstream's answer, read whole: ``status_code``, ``headers``, ``content``."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: LeanHeaders, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def close(self) -> None:
        """The body was read in full and the connection is back in its pool already."""


class LeanPool:
    """One keep-alive pool per upstream instance (``http://host:port``), thread-safe."""

    def __init__(self, keepalive: int = 20) -> None:
        self._manager = urllib3.PoolManager(num_pools=64, maxsize=keepalive, block=False,
                                            retries=False)
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, base_url: str) -> urllib3.HTTPConnectionPool:
        pool = self._pools.get(base_url)
        if pool is None:
            with self._lock:
                pool = self._pools.get(base_url)
                if pool is None:
                    pool = self._manager.connection_from_url(base_url)
                    self._pools[base_url] = pool
        return pool

    def send(self, method: str, base_url: str, target: str, *, content: bytes | None,
             headers: Mapping[str, str], timeout: float, max_body: int | None = None) -> LeanResponse:
        """``target``: path and query. Raises httpx's transport errors, and :class:`BodyTooLarge`
        (the connection dropped, nothing more read) for an answer over ``max_body`` bytes."""
        try:
            answer = self._pool(base_url).urlopen(
                method, target, body=content, headers=headers, retries=False, redirect=False,
                assert_same_host=False, timeout=urllib3.Timeout(connect=timeout, read=timeout),
                preload_content=False, decode_content=True)
            body = _read_at_most(answer, max_body)
        except NewConnectionError as exc:  # refused, unreachable: nothing was sent
            raise httpx.ConnectError(str(exc)) from exc
        except ConnectTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
        except ReadTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except ProtocolError as exc:  # reset, or closed before an answer (a kept-alive socket)
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except HTTPError as exc:
            raise httpx.ReadError(str(exc)) from exc
        return LeanResponse(answer.status, LeanHeaders(answer.headers), body)

    def clear(self) -> None:
        with self._lock:
            self._pools.clear()
            self._manager.clear()
