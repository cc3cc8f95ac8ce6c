"""The worker's own small HTTP server: ``/health/live``, ``/health/ready``, ``/metrics``, and
for admins the operations of ``<svc>-worker dlq|outbox`` (the operator console calls them):

    GET  /ops/outbox            {"service", "unsent", "oldest_age_s"}
    GET  /ops/dlq?limit=N       {"service", "queue", "count", "messages": [...]}
    POST /ops/dlq/replay        body {"ids": [...]} or none (all)  -> {"replayed": n}
    POST /ops/dlq/purge         -> {"purged": n}

``/ops/*`` needs ``Authorization: Bearer <access token>`` of an admin, checked as every
service checks tokens (:mod:`flotilla.auth`: users' published keys and revocation list).
The port is an internal one (``WORKER_HOST``/``WORKER_PORT``), never on the edge. Errors
are problem+json.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pika.exceptions
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from flotilla.auth import (
    AuthSettings,
    Caller,
    ExpiredToken,
    InvalidToken,
    JwksHttpKeySource,
    KeySource,
    KeySourceUnavailable,
    RevocationList,
    TokenVerifier,
)
from flotilla.auth.revocation import RevocationPoller, revocations_url
from flotilla.events import ops, topology
from flotilla.events.ops import WorkerOps
from flotilla.health import evaluate
from flotilla.problems import PROBLEM_JSON, TYPE_BASE
from flotilla.settings import load_settings

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
REALM = 'Bearer realm="flotilla"'


class OpsRefused(Exception):
    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, dict(headers or {})


class AdminCheck:
    """Lets through bearer tokens of admins; anything else is an :class:`OpsRefused`."""

    def __init__(self, verifier: TokenVerifier, revoked: Callable[[Caller], bool] | None = None,
                 before: Callable[[], None] | None = None) -> None:
        self.verifier, self.revoked, self.before = verifier, revoked, before

    @classmethod
    def from_settings(cls, settings: AuthSettings, key_source: KeySource | None = None) -> AdminCheck:
        source = key_source or JwksHttpKeySource(
            settings.jwt_jwks_url, cache_seconds=settings.jwt_jwks_cache_seconds,
            refetch_interval=settings.jwt_jwks_refetch_interval, timeout=settings.jwt_jwks_timeout)
        verifier = TokenVerifier(source, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                 leeway=settings.jwt_leeway)
        if key_source is not None or settings.jwt_revocations_interval <= 0:
            return cls(verifier)
        revocations = RevocationList()
        poller = RevocationPoller(settings.jwt_revocations_url or revocations_url(settings.jwt_jwks_url),
                                  revocations, interval=settings.jwt_revocations_interval)
        return cls(verifier, revocations.is_revoked, poller.ensure_started)  # polled from the first call

    def __call__(self, header: str | None) -> Caller:
        challenge = {"WWW-Authenticate": REALM}
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise OpsRefused(401, "The operations endpoints need an admin's bearer access token.", challenge)
        if self.before is not None:
            self.before()
        try:
            caller = self.verifier.verify(token.strip())
        except ExpiredToken:
            raise OpsRefused(401, "The access token has expired; refresh it.", challenge) from None
        except InvalidToken:
            raise OpsRefused(401, "The access token is not valid.", challenge) from None
        except KeySourceUnavailable:
            raise OpsRefused(503, "Access tokens cannot be checked right now.",
                             {"Retry-After": "5"}) from None
        if self.revoked is not None and self.revoked(caller):
            raise OpsRefused(401, "The access token has been revoked; log in again.", challenge)
        if not caller.is_admin:
            raise OpsRefused(403, "This needs the role admin.")
        return caller


class WorkerHTTPServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry,
                 checks: Mapping[str, Callable[[], Any]], ops: WorkerOps | None = None,
                 admin: AdminCheck | None = None) -> None:
        if ops is not None and admin is None:
            admin = AdminCheck.from_settings(load_settings(AuthSettings))
        handler = _make_handler(registry, checks, ops, admin)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _problem(status: int, detail: str, path: str) -> dict[str, Any]:
    title = HTTPStatus(status).phrase
    return {"type": TYPE_BASE + title.lower().replace(" ", "-").replace("'", ""), "title": title,
            "status": status, "detail": detail, "instance": path}


def _ids(body: bytes) -> set[str] | None:
    """The message ids of a replay body (``{"ids": [...]}``); None (all) for an empty body."""
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except ValueError:
        raise OpsRefused(400, "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise OpsRefused(422, 'Send {"ids": ["<message id>", ...]} or no body.')
    ids = data.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids):
        raise OpsRefused(422, 'Send {"ids": ["<message id>", ...]} (non-empty strings) or no body.')
    return set(ids)


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["100"])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise OpsRefused(400, "limit is a whole number from 1 to 1000.")
    return int(raw)


def _make_handler(registry: CollectorRegistry, checks: Mapping[str, Callable[[], Any]],
                  operations: WorkerOps | None, admin: AdminCheck | None) -> type[BaseHTTPRequestHandler]:
    def run_op(method: str, path: str, query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
        if operations is None:
            raise OpsRefused(404, "This worker has no operations endpoints.")
        routes = {("GET", "/ops/outbox"), ("GET", "/ops/dlq"), ("POST", "/ops/dlq/replay"),
                  ("POST", "/ops/dlq/purge")}
        if (method, path) not in routes:
            if any(p == path for _, p in routes):
                raise OpsRefused(405, f"{method} is not allowed here.")
            raise OpsRefused(404, "No operation lives at this path.")
        svc, url = operations.service, operations.amqp_url
        if path == "/ops/outbox":
            if operations.backlog is None:
                raise OpsRefused(404, f"{svc} has no outbox.")
            b = operations.backlog()
            return {"service": svc, "unsent": b.unsent, "oldest_age_s": round(b.oldest_age_s, 3)}
        if not operations.consumes:
            raise OpsRefused(404, f"{svc} consumes no events: it has no parking queue.")
        if path == "/ops/dlq":
            limit = _limit(query)
            messages = [asdict(p) for p in ops.list_parked(url, svc, limit)]
            return {"service": svc, "queue": topology.parking_queue(svc),
                    "count": ops.count_parked(url, svc), "messages": messages}
        if path == "/ops/dlq/replay":
            ids = _ids(body)
            return {"service": svc, "replayed": ops.replay_parked(url, svc, ids)}
        return {"service": svc, "purged": ops.purge_parked(url, svc)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif self.path == "/health/live":
                self._json(200, {"status": "ok"})
            elif self.path == "/health/ready":
                self._json(*evaluate(checks))
            else:
                self._ops("GET")

        def do_POST(self) -> None:
            self._ops("POST")

        def _ops(self, method: str) -> None:
            split = urllib.parse.urlsplit(self.path)
            try:
                if not split.path.startswith("/ops/"):
                    raise OpsRefused(404, "Not found.")
                length = self.headers.get("Content-Length", "0")
                if not length.isdigit() or int(length) > MAX_BODY:
                    raise OpsRefused(413, f"The body must be at most {MAX_BODY} bytes.")
                body = self.rfile.read(int(length)) if int(length) else b""
                if admin is None:
                    raise OpsRefused(404, "This worker has no operations endpoints.")
                caller = admin(self.headers.get("Authorization"))
                result = run_op(method, split.path, urllib.parse.parse_qs(split.query), body)
                if method == "POST":
                    log.info("ops %s by admin %s: %s", split.path, caller.user_id, result)
                self._json(200, result)
            except OpsRefused as exc:
                self._refuse(exc, split.path)
            except (pika.exceptions.AMQPError, SQLAlchemyError, OSError) as exc:
                log.warning("ops %s: broker or database unavailable: %r", split.path, exc)
                self._refuse(OpsRefused(503, "The broker or the database cannot be reached; try again "
                                             "shortly.", {"Retry-After": "2"}), split.path)
            except Exception:
                log.exception("ops %s failed", split.path)
                self._refuse(OpsRefused(500, "An unexpected error occurred; it has been logged."), split.path)

        def _refuse(self, exc: OpsRefused, path: str) -> None:
            self._json(exc.status, _problem(exc.status, exc.detail, path), PROBLEM_JSON, exc.headers)

        def _json(self, status: int, body: dict[str, Any], content_type: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> None:
            self._send(status, content_type, json.dumps(body).encode(), headers)

        def _send(self, status: int, content_type: str, payload: bytes,
                  headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return Handler
