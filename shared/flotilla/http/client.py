"""``ServiceClient``: calls to one upstream service, resilient by default.

- one pooled keep-alive ``httpx.Client`` (thread-safe) per process, shared by clients;
- a deadline per call (``timeout``) that every attempt, back-off included, fits in;
- retries with full-jitter back-off, for idempotent methods only, limited by a
  :class:`RetryBudget`; a refused connection (nothing was sent) moves on to another
  instance at once, for any method, without spending the budget, and an idempotent call
  whose connection broke before any answer (an instance killed under a kept-alive
  connection) gets one such free retry too;
- round-robin over the instances discovery returns, skipping those whose
  :class:`CircuitBreaker` is open (half-open ones get one probe);
- ``X-Request-ID`` from :mod:`flotilla.context` and the caller's ``Authorization`` passed on;
- :meth:`ServiceClient.forward`, the gateway's proxied call: the same policy over urllib3's
  pools (:mod:`flotilla.http.lean`, half the CPU of an httpx call) when the httpx client was
  made by :func:`make_http_client` and tracing is off (httpx carries the client spans).
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from flotilla import tracing
from flotilla.context import current_request_id
from flotilla.discovery import Discovery, DiscoveryError, Instance
from flotilla.http import metrics
from flotilla.http.breaker import OPEN, BreakerRegistry
from flotilla.http.budget import RetryBudget
from flotilla.http.errors import (
    CircuitOpen,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
)
from flotilla.http.lean import BodyTooLarge, LeanPool, LeanResponse

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({502, 503, 504})
#: The connection broke before an answer: a kept-alive socket to an instance that just died.
DROPPED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)

#: The urllib3 pools beside the httpx clients make_http_client built (used by ``forward``).
_LEAN: weakref.WeakKeyDictionary[httpx.Client, LeanPool] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CallPolicy:
    timeout: float = 2.0  # seconds for the whole call, retries included
    attempts: int = 3  # at most, first try included
    backoff_base: float = 0.025
    backoff_cap: float = 0.5
    max_body: int = 16 * 1024 * 1024  # bytes of an answer read; longer ones end in UpstreamTooLarge


def make_http_client(max_connections: int = 100, keepalive: int = 20,
                     keepalive_expiry: float = 4.0) -> httpx.Client:
    # httpx logs every request at INFO; ours logs failures, the access log the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Idle connections are dropped before gunicorn's own keep-alive (5 s) closes them under us.
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive,
                          keepalive_expiry=keepalive_expiry)
    client = tracing.instrument_httpx(httpx.Client(limits=limits, follow_redirects=False, trust_env=False))
    if not tracing.enabled():  # traced calls stay on httpx, whose instrumentation makes the spans
        _LEAN[client] = LeanPool(keepalive=keepalive)
    return client


class ServiceClient:
    def __init__(self, service: str, discovery: Discovery, *, policy: CallPolicy | None = None,
                 breakers: BreakerRegistry | None = None, budget: RetryBudget | None = None,
                 http: httpx.Client | None = None) -> None:
        self.service = service
        self.discovery = discovery
        self.policy = policy or CallPolicy()
        self.breakers = breakers or BreakerRegistry()
        self.budget = budget or RetryBudget()
        self.http = http or make_http_client()
        self._turn = itertools.count()
        if self.breakers.on_change is None:  # a registry shared by several clients is wired once
            self.breakers.on_change = lambda key, old, new: metrics.breaker_changed(key, old, new)
            self.breakers.on_new = metrics.breaker_seen

    def _spend_retry(self) -> bool:
        spent = self.budget.try_spend()
        metrics.retry(self.service, spent)
        return spent

    def _headers(self, extra: Mapping[str, str] | None, token: str | None) -> dict[str, str]:
        headers = dict(extra or {})
        lowered = {k.lower() for k in headers}
        rid = current_request_id()
        if rid and "x-request-id" not in lowered:
            headers["X-Request-ID"] = rid
        if token and "authorization" not in lowered:  # the caller's, passed on explicitly
            headers["Authorization"] = token
        return headers

    def _candidates(self) -> list[Instance]:
        try:
            found = self.discovery.instances(self.service)
        except DiscoveryError as exc:
            raise UpstreamUnavailable(self.service, str(exc), retry_after=2) from exc
        if not found:
            raise UpstreamUnavailable(self.service, "no healthy instance is known", retry_after=2)
        # Instances whose breaker is open sit out of the rotation, so their share is spread
        # evenly over the others instead of all landing on their neighbour.
        live = [i for i in found if self.breakers.get(i.url).state != OPEN] or found
        start = next(self._turn) % len(live)
        return live[start:] + live[:start] + [i for i in found if i not in live]

    def _choose(self, order: list[Instance], tried: set[str]) -> Instance | None:
        for inst in sorted(order, key=lambda i: i.id in tried):  # untried first, order kept
            if self.breakers.get(inst.url).allow():
                return inst
        return None

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                content: bytes | None = None, headers: Mapping[str, str] | None = None,
                timeout: float | None = None, idempotent: bool | None = None,
                token: str | None = None) -> httpx.Response:
        """Call the service; any answer below 500 is returned, as is a 5xx when retries are spent.
        ``token``: an ``Authorization`` value to send (the client never reads the current request).
        Raises ``UpstreamTimeout``, ``CircuitOpen`` or ``UpstreamUnavailable`` when no answer came."""
        return self._call(method, path, params=params, json=json, content=content, headers=headers,
                          timeout=timeout, idempotent=idempotent, token=token, lean=None)

    def forward(self, method: str, path: str, *, content: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                timeout: float | None = None) -> httpx.Response | LeanResponse:
        """:meth:`request` for a proxy that copies the answer through (status, headers,
        content): the same retries, breakers and errors, over urllib3's pools when this
        client's httpx client came from :func:`make_http_client` with tracing off."""
        return self._call(method, path, params=None, json=None, content=content, headers=headers,
                          timeout=timeout, idempotent=None, token=None, lean=_LEAN.get(self.http))

    def _call(self, method: str, path: str, *, params: Any, json: Any, content: bytes | None,
              headers: Mapping[str, str] | None, timeout: float | None, idempotent: bool | None,
              token: str | None, lean: LeanPool | None) -> Any:
        method = method.upper()
        may_retry = method in IDEMPOTENT if idempotent is None else idempotent
        deadline = time.monotonic() + (timeout or self.policy.timeout)
        order = self._candidates()
        sent_headers = self._headers(headers, token)
        self.budget.deposit()
        tried: set[str] = set()
        reconnected = False
        last_error: Exception | None = None
        for attempt in range(self.policy.attempts):
            inst = self._choose(order, tried)
            remaining = deadline - time.monotonic()
            if inst is None or remaining <= 0:
                break
            tried.add(inst.id)
            breaker = self.breakers.get(inst.url)
            retryable = may_retry
            try:
                if lean is not None:
                    response = lean.send(method, inst.url, path, content=content, headers=sent_headers,
                                         timeout=remaining, max_body=self.policy.max_body)
                else:
                    response = self._send(method, inst.url + path, params=params, json=json,
                                          content=content, headers=sent_headers, timeout=remaining)
            except BodyTooLarge as exc:
                breaker.record_success()  # the instance answered; its answer is the problem
                raise UpstreamTooLarge(self.service, exc.limit) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                breaker.record_failure()
                last_error, retryable = exc, True  # nothing reached the upstream
                if any(i.id not in tried for i in order) and attempt + 1 < self.policy.attempts:
                    continue  # another instance, at once, without spending the budget: no extra load
            except httpx.TransportError as exc:  # read timeouts, resets, protocol errors
                breaker.record_failure()
                last_error = exc
                if (may_retry and not reconnected and isinstance(exc, DROPPED)
                        and attempt + 1 < self.policy.attempts):
                    reconnected = True
                    continue  # a connection that died under us (instance gone): once, free, elsewhere
            else:
                if response.status_code < 500:
                    breaker.record_success()
                    return response
                breaker.record_failure()
                last_error = None
                retryable = retryable and response.status_code in RETRY_STATUSES
                if not retryable or attempt + 1 == self.policy.attempts or not self._spend_retry():
                    return response
                response.close()
                self._back_off(attempt, deadline)
                continue
            log.warning("%s %s%s failed on %s: %r", method, self.service, path, inst.url, last_error)
            if not retryable or attempt + 1 == self.policy.attempts or not self._spend_retry():
                break
            self._back_off(attempt, deadline)
        raise self._failure(last_error, order, deadline)

    def _send(self, method: str, url: str, *, params: Any, json: Any, content: bytes | None,
              headers: Mapping[str, str], timeout: float) -> httpx.Response:
        """One httpx call whose body is read up to ``policy.max_body`` bytes (raw, as sent)."""
        request = self.http.build_request(method, url, params=params, json=json, content=content,
                                          headers=headers, timeout=httpx.Timeout(timeout))
        streamed = self.http.send(request, stream=True)
        try:
            limit = self.policy.max_body
            declared = streamed.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            chunks, size = [], 0
            for chunk in streamed.iter_raw():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
        finally:
            streamed.close()
        return httpx.Response(streamed.status_code, headers=streamed.headers, content=b"".join(chunks),
                              request=request, extensions=streamed.extensions)

    def _back_off(self, attempt: int, deadline: float) -> None:
        pause = random.uniform(0, min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** attempt))
        time.sleep(max(0.0, min(pause, deadline - time.monotonic() - 0.01)))

    def _failure(self, error: Exception | None, order: list[Instance], deadline: float) -> Exception:
        if isinstance(error, httpx.TimeoutException) or (error is None and time.monotonic() >= deadline):
            return UpstreamTimeout(self.service, "did not answer in time")
        if error is None:
            wait = min(self.breakers.get(i.url).retry_after() for i in order)
            return CircuitOpen(self.service, "every instance's circuit breaker is open", retry_after=wait)
        return UpstreamUnavailable(self.service, f"unreachable ({type(error).__name__})")

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and decode; 404 -> ``UpstreamNotFound``, other 4xx -> ``UpstreamStatusError``,
        5xx -> ``UpstreamUnavailable``."""
        return self.json_of(self.request("GET", path, **kwargs))

    def json_of(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status >= 500:
            retry = response.headers.get("Retry-After", "1")
            raise UpstreamUnavailable(self.service, f"answered {status}",
                                      retry_after=float(retry) if retry.isdigit() else 1.0)
        body = _decode(response)
        if status == 404:
            raise UpstreamNotFound(self.service, status, body)
        if status >= 400:
            raise UpstreamStatusError(self.service, status, body)
        return body


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
