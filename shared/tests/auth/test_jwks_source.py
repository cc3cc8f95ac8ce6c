"""JwksHttpKeySource: cached, re-fetched on an unknown kid at a bounded rate, resilient to outages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flotilla.auth import JwksHttpKeySource, KeySourceUnavailable, UnknownKey
from flotilla.testing.tokens import TokenMinter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Publisher:
    """What the users service would publish, changeable by the test; can be 'down'."""

    def __init__(self, *minters: TokenMinter) -> None:
        self.minters = list(minters)
        self.down = False
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> dict[str, Any]:
        self.calls += 1
        if self.down:
            raise OSError("connection refused")
        return {"keys": [k for m in self.minters for k in m.jwks()["keys"]]}


@pytest.fixture(scope="module")
def minters() -> list[TokenMinter]:
    return [TokenMinter(), TokenMinter()]


def _source(publisher: Publisher, clock: Clock) -> JwksHttpKeySource:
    return JwksHttpKeySource("http://users/jwks", cache_seconds=300, refetch_interval=10,
                             fetch=publisher, clock=clock)


def test_keys_are_cached_until_they_go_stale(minters):
    publisher, clock = Publisher(minters[0]), Clock()
    source = _source(publisher, clock)
    for _ in range(5):
        source.key_for(minters[0].kid)
    assert publisher.calls == 1
    clock.now += 301
    source.key_for(minters[0].kid)
    assert publisher.calls == 2


def test_an_unknown_kid_refetches_once_per_interval(minters):
    publisher, clock = Publisher(minters[0]), Clock()
    source = _source(publisher, clock)
    source.key_for(minters[0].kid)
    publisher.minters.append(minters[1])  # a rotation publishes a new key
    clock.now += 11
    assert source.key_for(minters[1].kid).key_id == minters[1].kid
    for _ in range(50):  # made-up kids: no flood
        with pytest.raises(UnknownKey):
            source.key_for("made-up")
    assert publisher.calls == 2  # the first fetch and the rotation's; made-up kids wait
    clock.now += 11
    with pytest.raises(UnknownKey):
        source.key_for("made-up")
    assert publisher.calls == 3


def test_an_outage_keeps_the_last_good_keys(minters):
    publisher, clock = Publisher(minters[0]), Clock()
    source = _source(publisher, clock)
    source.key_for(minters[0].kid)
    publisher.down = True
    clock.now += 400
    assert source.key_for(minters[0].kid).key_id == minters[0].kid


def test_no_keys_ever_is_unavailable_and_rate_limited(minters):
    publisher, clock = Publisher(minters[0]), Clock()
    publisher.down = True
    source = _source(publisher, clock)
    for _ in range(5):
        with pytest.raises(KeySourceUnavailable):
            source.key_for(minters[0].kid)
    assert publisher.calls == 1
    publisher.down = False
    clock.now += 11
    assert source.key_for(minters[0].kid)


def test_symmetric_and_encryption_keys_are_ignored(minters):
    jwks = minters[0].jwks()
    oct_key = {"kty": "oct", "kid": "shared", "k": "c2VjcmV0", "alg": "HS256"}
    enc_key = {**jwks["keys"][0], "kid": "enc", "use": "enc"}
    source = _source(lambda url, timeout: {"keys": [*jwks["keys"], oct_key, enc_key]}, Clock())
    assert source.key_for(minters[0].kid)
    for kid in ("shared", "enc"):
        with pytest.raises(UnknownKey):
            source.key_for(kid)


@pytest.fixture
def jwks_server(minters) -> Iterator[tuple[str, list[int]]]:
    hits: list[int] = []
    body = json.dumps(minters[0].jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/auth/jwks.json", hits
    finally:
        server.shutdown()
        server.server_close()


def test_fetches_over_real_http(jwks_server, minters):
    url, hits = jwks_server
    source = JwksHttpKeySource(url, refetch_interval=60)
    assert source.key_for(minters[0].kid).key_id == minters[0].kid
    with pytest.raises(UnknownKey):
        source.key_for("unknown")
    assert len(hits) == 1  # the unknown kid came within the refetch interval
