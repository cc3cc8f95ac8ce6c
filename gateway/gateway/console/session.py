"""The console's session and CSRF protection, with nothing kept on the server.

The session is the admin's own token pair from users' ``/auth/login``, each in a cookie that is
HttpOnly, SameSite=Strict, limited to ``/console`` and Secure whenever the request came over
TLS. Every request verifies the access token as the gateway verifies bearer tokens (keys,
revocation list); an expired one is traded for a new pair with the refresh token. A token
without the admin role never becomes a session.

CSRF: a random nonce in its own cookie (set on the first visit); each form carries
HMAC(nonce, the login session's id), or HMAC(nonce, "login") on the login form, and a POST
whose token does not match is refused (403). A page of another site can neither read the
nonce nor make the browser send our SameSite=Strict cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import httpx
from flask import Response, current_app, g, request

from flotilla.auth import Caller, ExpiredToken, InvalidToken, KeySourceUnavailable, TokenVerifier
from flotilla.auth.revocation import EXTENSION as REVOCATION_EXTENSION
from flotilla.http import ServiceClient
from flotilla.http.errors import UpstreamUnavailable
from flotilla.problems import Problem

log = logging.getLogger(__name__)

PATH = "/console"
ACCESS = "flotilla_console"
REFRESH = "flotilla_console_refresh"
NONCE = "flotilla_console_csrf"
VERIFIER = "console_verifier"


@dataclass(frozen=True)
class Session:
    token: str  # the admin's access token, passed on to users, catalog and the workers
    caller: Caller

    @property
    def bearer(self) -> str:
        return f"Bearer {self.token}"


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    expires_in: int


def _verifier() -> TokenVerifier:
    found: TokenVerifier = current_app.extensions[VERIFIER]
    return found


def verify(token: str) -> Caller:
    """The caller of a good, unrevoked token; ``InvalidToken`` (or ``ExpiredToken``) otherwise."""
    try:
        caller = _verifier().verify(token)
    except KeySourceUnavailable:
        raise Problem(503, "Access tokens cannot be checked right now; try again shortly.",
                      headers={"Retry-After": "5"}) from None
    revoked = current_app.extensions.get(REVOCATION_EXTENSION)
    if revoked is not None and revoked(caller):
        raise InvalidToken("revoked")
    return caller


def tokens_of(response: httpx.Response) -> Tokens | None:
    try:
        body = response.json()
        return Tokens(str(body["access_token"]), str(body["refresh_token"]), int(body["expires_in"]))
    except (ValueError, KeyError, TypeError):
        return None


def _refresh(users: ServiceClient, refresh_token: str) -> Session | None:
    try:
        answer = users.request("POST", "/auth/refresh", json={"refresh_token": refresh_token}, timeout=5.0)
    except UpstreamUnavailable:
        raise Problem(503, "The users service cannot be reached to renew the session.",
                      headers={"Retry-After": "2"}) from None
    tokens = tokens_of(answer) if answer.status_code == 200 else None
    if tokens is None:
        return None
    try:
        caller = verify(tokens.access)
    except InvalidToken:
        return None
    g.console_tokens = tokens  # written to the cookies after the view
    return Session(tokens.access, caller) if caller.is_admin else None


def current(users: ServiceClient) -> Session | None:
    """This request's admin session, or None (log in); a session without the admin role is a 403."""
    if "console_session" in g:
        found: Session | None = g.console_session
        return found
    session: Session | None = None
    token, refresh_token = request.cookies.get(ACCESS), request.cookies.get(REFRESH)
    if token and len(token) < 8192:
        try:
            session = Session(token, verify(token))
        except ExpiredToken:
            session = None
        except InvalidToken:
            refresh_token = None  # a forged or revoked token is not renewed
    if session is None and refresh_token and len(refresh_token) < 8192:
        session = _refresh(users, refresh_token)
    if session is not None and not session.caller.is_admin:
        raise Problem(403, "The operator console is for admins.")
    g.console_session = session
    return session


def set_tokens(response: Response, tokens: Tokens) -> None:
    secure = request.is_secure
    response.set_cookie(ACCESS, tokens.access, max_age=tokens.expires_in, path=PATH, secure=secure,
                        httponly=True, samesite="Strict")
    response.set_cookie(REFRESH, tokens.refresh, path=PATH, secure=secure, httponly=True, samesite="Strict")


def clear(response: Response) -> None:
    for name in (ACCESS, REFRESH):
        response.delete_cookie(name, path=PATH, secure=request.is_secure, httponly=True, samesite="Strict")


def _nonce() -> str:
    nonce = request.cookies.get(NONCE, "")
    if len(nonce) != 43:  # 32 random bytes, url-safe base64
        nonce = g.get("console_new_nonce") or secrets.token_urlsafe(32)
        g.console_new_nonce = nonce
    return nonce


def csrf_token(session: Session | None) -> str:
    """The token forms carry: bound to the nonce cookie and to the login session."""
    scope = (session.caller.session_id or str(session.caller.user_id)) if session else "login"
    return hmac.new(_nonce().encode(), f"flotilla-console:{scope}".encode(), hashlib.sha256).hexdigest()


def check_csrf(session: Session | None) -> None:
    sent = request.form.get("csrf_token", "")
    if NONCE not in request.cookies or not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
        log.warning("console: CSRF token refused on %s", request.path)
        raise Problem(403, "The form's CSRF token is missing or does not match this session; "
                           "reload the page and try again.", slug="csrf")


def write_cookies(response: Response) -> Response:
    """After every console view: a new nonce, renewed tokens."""
    nonce = g.get("console_new_nonce")
    if nonce:
        response.set_cookie(NONCE, nonce, path=PATH, secure=request.is_secure, httponly=True,
                            samesite="Strict")
    tokens = g.get("console_tokens")
    if tokens is not None:
        set_tokens(response, tokens)
    return response
