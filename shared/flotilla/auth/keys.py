"""Where verifying keys come from: an interface, a static set, and a JWKS fetched over HTTP.

Verification needs only public keys. ``KeySource.key_for(kid)`` returns the key a
token's header names or raises :class:`UnknownKey`; tests pass a ``StaticKeySource``
or their own subclass.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

log = logging.getLogger(__name__)

#: Key types we accept from a key set; an ``oct`` (shared secret) key is never a verifying key here.
ACCEPTED_KEY_TYPES = frozenset({"RSA", "OKP"})


class UnknownKey(Exception):
    """No key with this ``kid`` is published."""


class KeySourceUnavailable(Exception):
    """The key set could not be fetched and no earlier copy is at hand."""


def parse_jwks(document: Mapping[str, Any]) -> dict[str, PyJWK]:
    """``{kid: key}`` for the usable public keys of a JWKS document."""
    try:
        keys = PyJWKSet.from_dict(dict(document)).keys
    except (PyJWKSetError, PyJWKError, TypeError, ValueError) as exc:
        raise KeySourceUnavailable(f"the key set is not a valid JWKS: {exc}") from exc
    return {k.key_id: k for k in keys
            if k.key_id and k.key_type in ACCEPTED_KEY_TYPES and getattr(k, "public_key_use", None)
            in (None, "sig")}


class KeySource(ABC):
    @abstractmethod
    def key_for(self, kid: str) -> PyJWK:
        """The public key named ``kid``; raises ``UnknownKey`` or ``KeySourceUnavailable``."""


class StaticKeySource(KeySource):
    """A fixed key set, from a JWKS document."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = parse_jwks(jwks)

    def key_for(self, kid: str) -> PyJWK:
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownKey(kid) from None


def _http_get_json(url: str, timeout: float) -> Mapping[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        document: Mapping[str, Any] = json.loads(response.read(1_000_000))
        return document


class JwksHttpKeySource(KeySource):
    """A JWKS fetched from ``url``, cached for ``cache_seconds``.

    A ``kid`` not in the cache triggers a re-fetch (a rotation may have published it),
    but at most once per ``refetch_interval`` seconds, so tokens with made-up kids (or a
    users service that is down) cannot turn this process into a flood against it. When a
    fetch fails, the last good key set goes on being used.
    """

    def __init__(self, url: str, *, cache_seconds: float = 300.0, refetch_interval: float = 5.0,
                 timeout: float = 2.0, fetch: Callable[[str, float], Mapping[str, Any]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self.fetches = 0  # how many times the key set was requested; for tests and metrics
        self._fetch = fetch or _http_get_json
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PyJWK] | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")

    def key_for(self, kid: str) -> PyJWK:
        with self._lock:
            now = self._clock()
            stale = now - self._fetched_at >= self.cache_seconds
            missing = self._keys is None or kid not in self._keys
            may_refetch = now - self._attempted_at >= self.refetch_interval
            if (stale or missing) and may_refetch:
                self._refresh(now)
            if self._keys is None:
                raise KeySourceUnavailable(f"no key set from {self.url}")
            try:
                return self._keys[kid]
            except KeyError:
                raise UnknownKey(kid) from None

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            keys = parse_jwks(self._fetch(self.url, self.timeout))
        except Exception as exc:  # the network, a bad document: keep the old keys if any
            log.warning("could not fetch the key set from %s: %s", self.url, exc)
            return
        self._keys = keys
        self._fetched_at = now


def public_jwk(public_key: Any, kid: str, alg: str = "RS256") -> dict[str, Any]:
    """The JWKS entry for ``public_key`` (an RSA or Ed25519 public key object)."""
    from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

    algorithm = RSAAlgorithm if alg.startswith("RS") else OKPAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}
