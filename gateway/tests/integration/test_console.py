"""The operator console's routes: an admin login through users' /auth/login, a cookie session,
CSRF on every form, and the worker's real /ops endpoints on the session's RabbitMQ."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pika
import pytest
from flask import Response, jsonify, request
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from flotilla import services_list
from flotilla.auth import TokenVerifier
from flotilla.discovery.static import StaticDiscovery
from flotilla.events import topology as topo
from flotilla.events.ops import WorkerOps, list_parked
from flotilla.events.server import AdminCheck, WorkerHTTPServer
from flotilla.testing.tokens import TokenMinter
from flotilla.testing.upstream import FakeUpstream
from gateway import create_app
from gateway.config import GatewaySettings
from gateway.console.settings import ConsoleSettings

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ADMIN_ID, CUSTOMER_ID = uuid.uuid4(), uuid.uuid4()
REPLAY, PURGE = "/console/parking/catalog/replay", "/console/parking/catalog/purge"


def _users(minter: TokenMinter) -> FakeUpstream:
    up = FakeUpstream("users")
    accounts = {"admin@flotilla.test": (ADMIN_ID, ["admin"]), "jo@flotilla.test": (CUSTOMER_ID, ["customer"])}

    def pair(user_id: uuid.UUID, roles: list[str]) -> Response:
        email = next(e for e, (uid, _) in accounts.items() if uid == user_id)
        token = minter.mint(user_id, roles, email=email, sid=f"s-{user_id}")
        return jsonify(access_token=token, token_type="Bearer", expires_in=900, refresh_token=f"r-{user_id}")

    @up.app.post("/auth/login")
    def login() -> Response | tuple[Response, int]:
        body = request.get_json()
        if body["email"] not in accounts or body["password"] != "right":
            return jsonify(title="Unauthorized", status=401), 401
        return pair(*accounts[body["email"]])

    @up.app.post("/auth/refresh")
    def refresh() -> Response | tuple[Response, int]:
        token = request.get_json()["refresh_token"]
        if token == f"r-{ADMIN_ID}":
            return pair(ADMIN_ID, ["admin"])
        return jsonify(title="Unauthorized", status=401), 401

    @up.app.post("/auth/logout")
    def logout() -> tuple[str, int]:
        return "", 204

    return up.start()


def _catalog() -> FakeUpstream:
    up = FakeUpstream("catalog")

    @up.app.get("/stock/audit")
    def audit() -> Response | tuple[Response, int]:
        if "admin" not in request.headers.get("X-Test-Roles", "admin"):
            return jsonify(status=403), 403
        return jsonify(ok=False, products=3, discrepancies=[
            {"product_id": str(uuid.UUID(int=7)), "on_hand": 4, "reserved": 1, "initial_and_adjustments": 6,
             "ledger_total": 4, "ok": False}])

    return up.start()


@dataclass
class Console:
    client: FlaskClient
    users: FakeUpstream
    minter: TokenMinter
    queue: str  # the worker's service name (its queues)
    amqp_url: str

    def login_page(self) -> str:
        page = self.client.get("/console/login", headers=HTML)
        assert page.status_code == 200
        return csrf_of(page.get_data(as_text=True))

    def login(self, email: str = "admin@flotilla.test", password: str = "right",  # noqa: S107
              **kw: object) -> Response:
        token = self.login_page()
        return self.client.post("/console/login", data={"email": email, "password": password,
                                                        "csrf_token": token}, headers=HTML, **kw)

    def dashboard(self) -> str:
        page = self.client.get("/console/", headers=HTML)
        assert page.status_code == 200, page.get_data(as_text=True)
        return page.get_data(as_text=True)

    def park(self, message_id: str, error: str) -> None:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = conn.channel()
            for queue in (topo.main_queue(self.queue), topo.parking_queue(self.queue)):
                channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            channel.confirm_delivery()
            channel.basic_publish("", topo.parking_queue(self.queue), b"{}", pika.BasicProperties(
                message_id=message_id, type="stock.reserved", delivery_mode=2,
                headers={topo.ATTEMPT: 5, topo.LAST_ERROR: error}))
        finally:
            conn.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def console(rabbitmq_server) -> Iterator[Console]:
    yield from _console(rabbitmq_server.url, GatewaySettings(log_format="console"))


def _console(amqp_url: str, settings: GatewaySettings) -> Iterator[Console]:
    minter = TokenMinter()
    users, catalog, orders = _users(minter), _catalog(), FakeUpstream("orders").start()
    queue = f"consoletest{uuid.uuid4().hex[:8]}"
    admin = AdminCheck(TokenVerifier(minter.key_source(), issuer=minter.issuer, audience=minter.audience))
    worker = WorkerHTTPServer("127.0.0.1", 0, CollectorRegistry(), {},
                              ops=WorkerOps(queue, amqp_url, consumes=True), admin=admin)
    worker.start()
    try:
        # the console as create_app builds it, its settings (ConsoleSettings) pointed at this
        # test's worker (and one that is down)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("GATEWAY_CONSOLE_WORKERS",
                       f"catalog=http://127.0.0.1:{worker.port},orders=http://127.0.0.1:9")
            discovery = StaticDiscovery({"users": [users.url], "catalog": [catalog.url],
                                         "orders": [orders.url]})
            app = create_app(settings, discovery, key_source=minter.key_source())
        app.config["TESTING"] = True
        yield Console(app.test_client(), users, minter, queue, amqp_url)
    finally:
        worker.stop()
        for up in (users, catalog, orders):
            up.stop()
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        for q in (topo.main_queue(queue), topo.parking_queue(queue)):
            conn.channel().queue_delete(q)
        conn.close()


def _cookie_header(response: Response, name: str) -> str:
    found = [v for v in response.headers.getlist("Set-Cookie") if v.startswith(name + "=")]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return found[0]


def test_login_is_required_and_the_pages_carry_the_security_headers(console):
    assert console.client.get("/console/").headers["Location"].endswith("/console/login")
    assert console.client.get("/console/", headers=HTML).status_code == 303
    page = console.client.get("/console/login", headers=HTML)
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "form-action 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.get_data(as_text=True)
    nonce = _cookie_header(page, "flotilla_console_csrf")
    assert "HttpOnly" in nonce and "SameSite=Strict" in nonce and "Path=/console" in nonce
    css = console.client.get("/console/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    # the actions too: a POST without a session is refused
    for path in ("/console/parking/catalog/replay", "/console/parking/catalog/purge"):
        refused = console.client.post(path, data={"csrf_token": "x", "confirm": "yes"})
        assert (refused.status_code, refused.mimetype) == (401, "application/problem+json")
    assert console.users.count("POST", "/auth/login") == 0


def test_admin_login_sets_a_strict_httponly_session(console):
    answer = console.login()
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/")
    for name in ("flotilla_console", "flotilla_console_refresh"):
        cookie = _cookie_header(answer, name)
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain HTTP here
    sent = console.users.seen[-1]
    assert sent[0:2] == ("POST", "/auth/login?") and sent[2]["X-Forwarded-For"] == "127.0.0.1"
    assert "admin@flotilla.test" in console.dashboard()


def test_over_tls_the_cookies_are_secure(console):
    page = console.client.get("/console/login", headers=HTML, base_url="https://localhost")
    assert "Secure" in _cookie_header(page, "flotilla_console_csrf")
    csrf = csrf_of(page.get_data(as_text=True))
    form = {"email": "admin@flotilla.test", "password": "right", "csrf_token": csrf}
    answer = console.client.post("/console/login", base_url="https://localhost", headers=HTML, data=form)
    assert answer.status_code == 303
    assert "Secure" in _cookie_header(answer, "flotilla_console")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_non_admin_is_refused_and_their_session_ended(console):
    answer = console.login("jo@flotilla.test")
    assert answer.status_code == 403 and "not an admin" in answer.get_data(as_text=True)
    assert not [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("flotilla_console=")]
    assert console.users.count("POST", "/auth/logout") == 1
    # a customer's token put in the cookie by hand does not make a session either
    customer = console.minter.mint(CUSTOMER_ID, ["customer"])
    console.client.set_cookie("flotilla_console", customer, path="/console")
    refused = console.client.get("/console/", headers=HTML)
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert console.client.get("/console/").mimetype == "application/problem+json"


def test_wrong_password_and_bad_form_input(console):
    assert console.login(password="wrong").status_code == 401
    for email, password in (("", "x"), ("not-an-email", "x"), ("admin@flotilla.test", ""),
                            ("a@b" + "c" * 400, "x"), ("admin@flotilla.test", "p" * 5000)):
        answer = console.login(email, password)
        assert answer.status_code == 400 and answer.mimetype == "text/html", (email, password)
        assert "Enter the admin" in answer.get_data(as_text=True)
    token = console.login_page()
    missing = console.client.post("/console/login", data={"csrf_token": token}, headers=HTML)
    assert missing.status_code == 400
    assert console.users.count("POST", "/auth/login") == 1  # bad forms never reach users


def test_forms_without_the_csrf_token_are_refused(console):
    login = console.client.post("/console/login", data={"email": "admin@flotilla.test", "password": "right"},
                                headers=HTML)
    assert login.status_code == 403 and "CSRF" in login.get_data(as_text=True)
    other = console.client.post("/console/login", data={"email": "admin@flotilla.test", "password": "right",
                                                         "csrf_token": "0" * 64})
    assert (other.status_code, other.mimetype) == (403, "application/problem+json")
    assert console.users.count("POST", "/auth/login") == 0
    login_token = console.login_page()  # a login form's token is not the session's
    assert console.login().status_code == 303
    console.park("p-1", "boom")
    for token in ("", "0" * 64, login_token):
        for path, extra in ((REPLAY, {}), (PURGE, {"confirm": "yes"}), ("/console/logout", {})):
            answer = console.client.post(path, data={"csrf_token": token, **extra}, headers=HTML)
            assert answer.status_code == 403, (path, token)
    assert [p.message_id for p in list_parked(console.amqp_url, console.queue)] == ["p-1"]
    # without the nonce cookie the page's token is worthless
    csrf = csrf_of(console.dashboard())
    console.client.delete_cookie("flotilla_console_csrf", path="/console")
    assert console.client.post(REPLAY, data={"csrf_token": csrf}).status_code == 403


def test_dashboard_shows_instances_workers_parked_messages_and_the_audit(console):
    console.login()
    console.park("p-1", "ValueError: product <b>gone</b>")
    page = console.dashboard()
    assert console.users.url in page and "ready" in page and "closed" in page  # instance, breaker
    assert "catalog-worker" in page and "orders-worker" in page and "unreachable" in page
    assert "p-1" in page and "stock.reserved" in page
    assert "ValueError: product &lt;b&gt;gone&lt;/b&gt;" in page  # escaped
    assert f"{console.queue}.dlq" in page
    assert "1 of 3 products do not balance" in page and str(uuid.UUID(int=7)) in page


def test_replay_and_purge(console):
    console.login()
    console.park("p-1", "boom")
    console.park("p-2", "bang")
    csrf = csrf_of(console.dashboard())
    answer = console.client.post(REPLAY, data={"csrf_token": csrf, "message_id": "p-2"}, headers=HTML)
    assert answer.status_code == 303 and "done=replayed" in answer.headers["Location"]
    done = console.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "catalog: replayed 1 message(s)." in done
    assert [p.message_id for p in list_parked(console.amqp_url, console.queue)] == ["p-1"]

    no_confirm = console.client.post(PURGE, data={"csrf_token": csrf}, headers=HTML)
    assert no_confirm.status_code == 400 and "confirmation" in no_confirm.get_data(as_text=True)
    purged = console.client.post(PURGE, data={"csrf_token": csrf, "confirm": "yes"})
    assert purged.status_code == 303 and "done=purged" in purged.headers["Location"]
    assert list_parked(console.amqp_url, console.queue) == []


def test_bad_action_input_is_an_error_page_or_problem_json(console):
    console.login()
    csrf = csrf_of(console.dashboard())
    cases = (("/console/parking/nosuch/replay", {}, 404), ("/console/parking/catalog/replay",
             {"message_id": "bad id with spaces"}, 400), ("/console/parking/catalog/replay",
             {"message_id": "x" * 300}, 400), ("/console/parking/orders/replay", {}, 503),
             ("/console/parking/catalog/purge", {"confirm": "no"}, 400))
    for path, data, status in cases:
        page = console.client.post(path, data={"csrf_token": csrf, **data}, headers=HTML)
        assert (page.status_code, page.mimetype) == (status, "text/html"), path
        problem = console.client.post(path, data={"csrf_token": csrf, **data})
        assert (problem.status_code, problem.mimetype) == (status, "application/problem+json"), path
    assert console.client.get("/console/parking/catalog/replay").status_code == 405
    assert console.client.get("/console/?service=<x>&done=replayed&count=1", headers=HTML).status_code == 200


def test_an_expired_access_token_is_renewed_and_a_forged_one_is_not(console):
    console.login()
    console.client.set_cookie("flotilla_console", console.minter.mint(ADMIN_ID, ["admin"], ttl=-120),
                              path="/console")
    renewed = console.client.get("/console/", headers=HTML)
    assert renewed.status_code == 200 and console.users.count("POST", "/auth/refresh") == 1
    assert "HttpOnly" in _cookie_header(renewed, "flotilla_console")
    console.client.set_cookie("flotilla_console", TokenMinter().mint(ADMIN_ID, ["admin"]), path="/console")
    assert console.client.get("/console/").status_code == 303  # back to the login page
    assert console.users.count("POST", "/auth/refresh") == 1


def test_logout_ends_the_session_at_users(console):
    console.login()
    csrf = csrf_of(console.dashboard())
    answer = console.client.post("/console/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/login")
    assert console.users.count("POST", "/auth/logout") == 1
    for name in ("flotilla_console", "flotilla_console_refresh"):
        assert "Max-Age=0" in _cookie_header(answer, name) or "expires=Thu, 01 Jan 1970" in \
            _cookie_header(answer, name)
    assert console.client.get("/console/").status_code == 303
    # stale cookies only: logging out again just clears them
    again = console.client.post("/console/logout", data={})
    assert again.status_code == 303 and console.users.count("POST", "/auth/logout") == 1


def test_where_the_console_finds_the_workers():
    ports = services_list.WORKER_PORTS  # every service with a worker, from services.toml
    assert ConsoleSettings().worker_urls({"CATALOG_WORKER_PORT": "7000"}) == {
        s: f"http://127.0.0.1:{7000 if s == 'catalog' else p}" for s, p in ports.items()}
    pattern = ConsoleSettings(worker_url="http://{service}-worker:9000")
    assert pattern.worker_urls({"ORDERS_WORKER_URL": "http://elsewhere:1/"}) == {
        s: "http://elsewhere:1" if s == "orders" else f"http://{s}-worker:9000" for s in ports}
    assert ConsoleSettings(workers="catalog=http://a:1/").worker_urls({}) == {"catalog": "http://a:1"}
    for bad in ({"workers": "catalog"}, {"workers": "catalog=ftp://x"}, {"worker_url": "http://worker:9000"}):
        with pytest.raises(ValueError):
            ConsoleSettings(**bad)


def test_the_login_form_has_the_login_endpoints_strict_rate_limit(rabbitmq_server):
    strict = GatewaySettings(log_format="console", auth_rate_limit="3/minute")
    for console in _console(rabbitmq_server.url, strict):
        statuses = [console.login(password="wrong").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert console.users.count("POST", "/auth/login") == 3
        assert console.client.get("/console/login", headers=HTML).status_code == 200  # the form still shows
