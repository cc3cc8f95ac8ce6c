"""The worker's /ops/* endpoints (what the operator console calls): admins only, the same
operations as ``<svc>-worker dlq|outbox``, problem+json for anything refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pika
import pytest
from prometheus_client import CollectorRegistry

from flotilla.auth import TokenVerifier
from flotilla.db import utcnow
from flotilla.events import topology as topo
from flotilla.events.ops import WorkerOps, list_parked
from flotilla.events.outbox import Backlog
from flotilla.events.server import AdminCheck, WorkerHTTPServer
from flotilla.testing.tokens import TokenMinter

MINTER = TokenMinter()


def _park(url: str, service: str, message_id: str, error: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        channel.queue_declare(topo.main_queue(service), durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_declare(topo.parking_queue(service), durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        props = pika.BasicProperties(message_id=message_id, type="test.happened", delivery_mode=2,
                                     headers={topo.ATTEMPT: 5, topo.LAST_ERROR: error})
        channel.basic_publish("", topo.parking_queue(service), b'{"id": "%s"}' % message_id.encode(), props)
    finally:
        conn.close()


def _main_queue(url: str, service: str) -> list[tuple[str | None, dict]]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        out = []
        while True:
            method, props, _body = channel.basic_get(topo.main_queue(service), auto_ack=True)
            if method is None:
                return out
            out.append((props.message_id, dict(props.headers or {})))
    finally:
        conn.close()


def _delete(url: str, service: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        for queue in (topo.main_queue(service), topo.parking_queue(service)):
            channel.queue_delete(queue)
    finally:
        conn.close()


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, token: str | None = None, body: bytes | None = None
             ) -> tuple[int, str, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return resp.status, resp.headers["Content-Type"], json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


@pytest.fixture
def worker(rabbitmq_server) -> Iterator[tuple[Client, str, str]]:
    service = f"opstest{uuid.uuid4().hex[:8]}"
    oldest = utcnow() - timedelta(seconds=42)
    ops = WorkerOps(service, rabbitmq_server.url, consumes=True, backlog=lambda: Backlog(3, oldest))
    admin = AdminCheck(TokenVerifier(MINTER.key_source(), issuer=MINTER.issuer, audience=MINTER.audience))
    server = WorkerHTTPServer("127.0.0.1", 0, CollectorRegistry(), {}, ops=ops, admin=admin)
    server.start()
    try:
        yield Client(server.port), service, rabbitmq_server.url
    finally:
        server.stop()
        _delete(rabbitmq_server.url, service)


ADMIN = MINTER.mint(roles=("admin",))


def test_ops_need_an_admin_token(worker):
    client, _service, _url = worker
    for token, status in ((None, 401), ("not-a-jwt", 401), (MINTER.mint(roles=("customer",)), 403),
                          (MINTER.mint(roles=("admin",), ttl=-120), 401)):
        for method, path in (("GET", "/ops/dlq"), ("POST", "/ops/dlq/purge"), ("GET", "/ops/outbox")):
            code, content_type, body = client.call(method, path, token)
            assert (code, content_type, body["status"]) == (status, "application/problem+json", status)
    assert client.call("GET", "/health/live")[0] == 200  # health stays open


def test_list_replay_and_purge_do_what_the_cli_does(worker):
    client, service, url = worker
    _park(url, service, "m-1", "ValueError: no such product")
    _park(url, service, "m-2", "KeyError: 'sku'")
    code, _, listed = client.call("GET", "/ops/dlq", ADMIN)
    assert code == 200 and listed["count"] == 2 and listed["queue"] == f"{service}.dlq"
    seen = [(m["message_id"], m["event_type"], m["attempts"], m["last_error"]) for m in listed["messages"]]
    assert seen == [("m-1", "test.happened", 5, "ValueError: no such product"),
                    ("m-2", "test.happened", 5, "KeyError: 'sku'")]

    code, _, replayed = client.call("POST", "/ops/dlq/replay", ADMIN, json.dumps({"ids": ["m-2"]}).encode())
    assert (code, replayed["replayed"]) == (200, 1)
    back = _main_queue(url, service)
    assert [m for m, _ in back] == ["m-2"] and back[0][1][topo.ATTEMPT] == 1  # attempts reset
    assert [p.message_id for p in list_parked(url, service)] == ["m-1"]

    code, _, purged = client.call("POST", "/ops/dlq/purge", ADMIN)
    assert (code, purged["purged"]) == (200, 1)
    assert client.call("GET", "/ops/dlq", ADMIN)[2]["count"] == 0

    _park(url, service, "m-3", "boom")
    assert client.call("POST", "/ops/dlq/replay", ADMIN)[2]["replayed"] == 1  # no body: all
    assert [m for m, _ in _main_queue(url, service)] == ["m-3"]


def test_outbox_backlog(worker):
    client, service, _url = worker
    code, _, body = client.call("GET", "/ops/outbox", ADMIN)
    assert code == 200 and body["service"] == service and body["unsent"] == 3
    assert 41 <= body["oldest_age_s"] < 3600


def test_bad_input_is_problem_json(worker):
    client, _service, _url = worker
    for method, path, body, status in (
            ("GET", "/ops/dlq?limit=abc", None, 400), ("GET", "/ops/dlq?limit=0", None, 400),
            ("POST", "/ops/dlq/replay", b"not json", 400), ("POST", "/ops/dlq/replay", b'{"ids": 5}', 422),
            ("POST", "/ops/dlq/replay", b'{"ids": []}', 422), ("POST", "/ops/dlq/replay", b"[1]", 422),
            ("GET", "/ops/nothing", None, 404), ("GET", "/ops/dlq/purge", None, 405),
            ("POST", "/metrics", None, 404)):
        code, content_type, problem = client.call(method, path, ADMIN, body)
        assert (code, content_type, problem["status"]) == (status, "application/problem+json", status), path


def test_a_service_without_queue_or_outbox_says_so(rabbitmq_server):
    ops = WorkerOps("users", rabbitmq_server.url, consumes=False, backlog=None)
    admin = AdminCheck(TokenVerifier(MINTER.key_source(), issuer=MINTER.issuer, audience=MINTER.audience))
    server = WorkerHTTPServer("127.0.0.1", 0, CollectorRegistry(), {}, ops=ops, admin=admin)
    server.start()
    try:
        client = Client(server.port)
        for path in ("/ops/dlq", "/ops/outbox"):
            code, content_type, problem = client.call("GET", path, ADMIN)
            assert (code, content_type) == (404, "application/problem+json")
            assert "users" in problem["detail"]
    finally:
        server.stop()
