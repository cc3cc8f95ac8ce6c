"""The operator console: ``/console`` on the gateway's internal port, for admins.

Server-rendered (Jinja, autoescaped), no JavaScript, one stylesheet of its own. It shows every
instance with its readiness and breaker, each worker's outbox backlog and parking queue (with
replay and purge: what ``<svc>-worker dlq replay|purge`` does, through the worker's admin-only
``/ops`` endpoints) and catalog's stock audit. Not on the public edge (decision 0160).

Login posts to users' ``/auth/login`` through the gateway's own client; the session and the
CSRF protection are in :mod:`gateway.console.session`. Errors are an HTML page for a browser,
problem+json for anyone else.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from typing import Any

import httpx
from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request
from flask_limiter import Limiter
from werkzeug.exceptions import HTTPException

from flotilla import auth, incoming
from flotilla.auth import InvalidToken, KeySource
from flotilla.http import ServiceClient
from flotilla.http.errors import UpstreamUnavailable
from flotilla.problems import PROBLEM_JSON, Problem, problem_response
from flotilla.settings import load_settings
from gateway.config import GatewaySettings
from gateway.console import data, session
from gateway.console.settings import ConsoleSettings
from gateway.state import gateway_of

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: No script at all; styles and images only from here; forms post only here.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


def _settings() -> ConsoleSettings:
    found: ConsoleSettings = current_app.extensions["console_settings"]
    return found


def _users() -> ServiceClient:
    return gateway_of().clients["users"]


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", PROBLEM_JSON, "application/json"])
    return best == "text/html"


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    return response


def _see(location: str) -> Response:
    return redirect(location, code=303)  # type: ignore[return-value]


def _error_page(problem: Problem) -> Response:
    if not _wants_html():
        return problem_response(problem)
    try:
        signed_in = problem.status not in (401, 403, 503) and session.current(_users()) is not None
    except Problem:
        signed_in = False
    response = _page("console/error.html", problem.status, problem=problem, signed_in=signed_in)
    response.headers.update(problem.headers)
    return response


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    return _error_page(exc)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return _error_page(Problem(exc.code or 500, exc.description))


@bp.errorhandler(UpstreamUnavailable)
def _unavailable(exc: UpstreamUnavailable) -> Response:
    return _error_page(Problem(503, f"{exc.service} cannot be reached right now; try again shortly.",
                               headers={"Retry-After": "2"}))


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP  # before the gateway's defaults fill the rest
    response.headers["Cache-Control"] = "no-store"
    return session.write_cookies(response)


def _admin() -> session.Session:
    found = session.current(_users())
    if found is None:
        raise Problem(401, "Log in first: the console needs an admin session.")
    return found


# --- login ----------------------------------------------------------------------------------

def _login_page(status: int = 200, error: str | None = None, email: str = "") -> Response:
    return _page("console/login.html", status, csrf=session.csrf_token(None), error=error, email=email)


@bp.get("/login")
def login_form() -> Response:
    if session.current(_users()) is not None:
        return _see("/console/")
    return _login_page()


@bp.post("/login")
def login() -> Response:
    session.check_csrf(None)
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    if not _EMAIL.match(email) or not 0 < len(password) <= 1024:
        return _login_page(400, "Enter the admin's email address and password.", email[:320])
    peer = request.remote_addr or "unknown"
    answer = _users().request("POST", "/auth/login", json={"email": email, "password": password},
                              headers={"X-Forwarded-For": peer, "X-Forwarded-Proto": request.scheme},
                              timeout=5.0)
    if answer.status_code in (401, 422):
        return _login_page(401, "Wrong email or password.", email)
    if answer.status_code == 429:
        response = _login_page(429, "Too many attempts; wait a moment and try again.", email)
        response.headers["Retry-After"] = answer.headers.get("Retry-After", "60")
        return response
    tokens = session.tokens_of(answer) if answer.status_code == 200 else None
    if tokens is None:
        log.warning("console login: users answered %s", answer.status_code)
        raise Problem(502, "The users service gave an unexpected answer to the login.")
    try:
        caller = session.verify(tokens.access)
    except InvalidToken:
        raise Problem(502, "The users service issued a token this gateway cannot verify.") from None
    if not caller.is_admin:
        _end_session(tokens.access, tokens.refresh)
        return _login_page(403, "This account is not an admin: the console is for admins.", email)
    log.info("console: admin %s logged in", caller.user_id)
    g.console_tokens = tokens
    return _see("/console/")


def _end_session(access: str, refresh: str | None) -> None:
    """users' logout: the refresh family and every access token of the session end."""
    try:
        _users().request("POST", "/auth/logout", json={"refresh_token": refresh or ""},
                         token=f"Bearer {access}", timeout=5.0)
    except UpstreamUnavailable as exc:
        log.warning("console logout not sent to users: %s", exc)


@bp.post("/logout")
def logout() -> Response:
    current = session.current(_users())
    if current is not None:  # without a session there is nothing to end but stale cookies
        session.check_csrf(current)
        renewed = g.pop("console_tokens", None)
        _end_session(current.token, renewed.refresh if renewed else request.cookies.get(session.REFRESH))
    response = _see("/console/login")
    session.clear(response)
    return response


# --- the dashboard and its actions ------------------------------------------------------------

@bp.get("/")
def dashboard() -> Response:
    current = session.current(_users())
    if current is None:
        return _see("/console/login")
    settings = _settings()
    board = data.gather(settings.worker_urls(), current.bearer, settings.worker_timeout)
    notice = _notice(request.args)
    return _page("console/dashboard.html", board=board, csrf=session.csrf_token(current),
                 caller=current.caller, notice=notice)


def _notice(args: Any) -> str | None:
    service, action, count = args.get("service", ""), args.get("done", ""), args.get("count", "")
    if service not in _settings().worker_urls() or action not in ("replayed", "purged") \
            or not count.isdigit():
        return None
    return f"{service}: {action} {int(count)} message(s)."


def _worker_url(service: str) -> str:
    url = _settings().worker_urls().get(service)
    if url is None:
        raise Problem(404, "No worker of that name is known to the console.")
    return url


def _operate(service: str, path: str, body: dict[str, Any] | None) -> int:
    url, current = _worker_url(service), _admin()
    state = gateway_of()
    http = next(iter(state.clients.values())).http
    try:
        answer = data.call_worker(http, "POST", url + path, current.bearer,
                                  _settings().worker_timeout * 5, body)
    except httpx.HTTPError as exc:
        raise Problem(503, f"{service}'s worker cannot be reached ({type(exc).__name__}).",
                      headers={"Retry-After": "2"}) from None
    if answer.status_code != 200:
        raise Problem(502 if answer.status_code >= 500 else answer.status_code,
                      f"{service}'s worker refused: {data._why(answer)}")
    result = answer.json()
    return int(result.get("replayed", result.get("purged", 0)))


def _done(service: str, action: str, count: int) -> Response:
    return _see("/console/?" + urllib.parse.urlencode({"service": service, "done": action, "count": count}))


@bp.post("/parking/<service>/replay")
def replay(service: str) -> Response:
    session.check_csrf(_admin())
    message_id = request.form.get("message_id", "").strip()
    if message_id and not _MESSAGE_ID.match(message_id):
        raise Problem(400, "The message id is 1 to 200 printable characters.")
    count = _operate(service, "/ops/dlq/replay", {"ids": [message_id]} if message_id else None)
    log.info("console: %s replayed %d parked message(s) of %s", _admin().caller.user_id, count, service)
    return _done(service, "replayed", count)


@bp.post("/parking/<service>/purge")
def purge(service: str) -> Response:
    session.check_csrf(_admin())
    if request.form.get("confirm") != "yes":
        raise Problem(400, "Purging drops the parked messages for good: tick the confirmation box.")
    count = _operate(service, "/ops/dlq/purge", None)
    log.info("console: %s purged %d parked message(s) of %s", _admin().caller.user_id, count, service)
    return _done(service, "purged", count)


def init_app(app: Flask, settings: GatewaySettings, key_source: KeySource | None = None, *,
             limiter: Limiter | None = None, console_settings: ConsoleSettings | None = None) -> None:
    verifier = app.extensions.get("flotilla_auth") or auth.init_app(app, settings, key_source)
    app.extensions[session.VERIFIER] = verifier
    app.extensions["console_settings"] = console_settings or load_settings(ConsoleSettings)
    app.register_blueprint(bp)
    app.extensions.setdefault(incoming.FORM_ENDPOINTS, set()).update(
        f"console.{view}" for view in ("login", "logout", "replay", "purge"))
    if limiter is not None:  # the login form gets the login endpoint's strict limit
        view = app.view_functions["console.login"]
        limited: Any = limiter.limit(settings.auth_rate_limit, methods=["POST"])(view)
        app.view_functions["console.login"] = limited
