"""Bearer tokens at a Flask edge: ``require_user``, ``require_role`` and ``current_caller``.

Use them under the route decorator::

    @bp.post("", security=SECURITY)
    @require_role("admin")
    def create_product(body: ProductCreate) -> Response:
        caller = current_caller()   # a plain Caller, handed to the use case

401 and 403 are problem+json with a ``WWW-Authenticate`` header (RFC 6750).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from flotilla.auth import revocation
from flotilla.auth.keys import JwksHttpKeySource, KeySource, KeySourceUnavailable
from flotilla.auth.revocation import EXTENSION as REVOCATION_EXTENSION
from flotilla.auth.settings import AuthSettings
from flotilla.auth.tokens import Caller, ExpiredToken, InvalidToken, TokenVerifier
from flotilla.problems import Problem

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: For ``create_service_app(security_schemes=...)`` and ``@bp.get(..., security=SECURITY)``.
SECURITY_SCHEMES: dict[str, object] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]
REALM = 'Bearer realm="flotilla"'
_REQUIRES = "__flotilla_requires__"


def init_app(app: Flask, settings: AuthSettings, key_source: KeySource | None = None) -> TokenVerifier:
    """Check tokens in this app with ``key_source`` (default: the JWKS at ``JWT_JWKS_URL``)."""
    source = key_source or JwksHttpKeySource(
        settings.jwt_jwks_url, cache_seconds=settings.jwt_jwks_cache_seconds,
        refetch_interval=settings.jwt_jwks_refetch_interval, timeout=settings.jwt_jwks_timeout)
    verifier = TokenVerifier(source, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                             leeway=settings.jwt_leeway)
    app.extensions["flotilla_auth"] = verifier
    if key_source is None and settings.jwt_revocations_interval > 0:
        # Tokens come from users over HTTP: so does the list of revoked identities.
        revocation.install_poller(app, settings.jwt_revocations_url or revocation.revocations_url(
            settings.jwt_jwks_url), settings.jwt_revocations_interval)

    @app.before_request
    def _check_guarded_view() -> None:
        if request.method == "OPTIONS":  # Flask's automatic answer (CORS preflight) needs no caller
            return
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        roles = getattr(view, _REQUIRES, None)
        if roles is not None:
            _admit(roles)

    return verifier


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = REALM + (f', error="{error}"' if error else "")
    return Problem(401, detail, headers={"WWW-Authenticate": challenge}, slug="unauthorized")


def authenticate() -> Caller:
    """The caller named by this request's bearer token; raises a 401/503 ``Problem``."""
    header = request.headers.get("Authorization")
    if not header:
        raise _unauthorized("This endpoint needs a bearer access token.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send the access token as 'Authorization: Bearer <token>'.",
                            "invalid_request")
    verifier: TokenVerifier = current_app.extensions["flotilla_auth"]
    try:
        caller = verifier.verify(token.strip())
    except ExpiredToken:
        raise _unauthorized("The access token has expired; refresh it.", "invalid_token") from None
    except InvalidToken as exc:
        log.info("access token refused: %s", exc)
        raise _unauthorized("The access token is not valid.", "invalid_token") from None
    except KeySourceUnavailable:
        log.warning("access token not checked: no signing keys at hand")
        raise Problem(503, "Access tokens cannot be checked right now; try again shortly.",
                      headers={"Retry-After": "5"}) from None
    revoked = current_app.extensions.get(REVOCATION_EXTENSION)
    if revoked is not None and revoked(caller):
        log.info("access token refused: revoked (user %s, token %s)", caller.user_id, caller.token_id)
        raise _unauthorized("The access token has been revoked; log in again.", "invalid_token")
    g.flotilla_caller = caller
    return caller


def current_caller() -> Caller:
    """The caller a guard let through; only valid inside a guarded view."""
    caller: Caller | None = g.get("flotilla_caller")
    if caller is None:
        raise RuntimeError("current_caller() outside a view guarded by require_user/require_role")
    return caller


def _admit(roles: tuple[str, ...]) -> Caller:
    """The authenticated caller (once per request), holding one of ``roles`` if any are named."""
    caller: Caller = g.get("flotilla_caller") or authenticate()
    if roles and not caller.roles & set(roles):
        raise Problem(403, f"This needs the role {' or '.join(roles)}.",
                      headers={"WWW-Authenticate": REALM + ', error="insufficient_scope"'})
    return caller


def _guard(view: F, roles: tuple[str, ...]) -> F:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _admit(roles)
        return view(*args, **kwargs)

    # flask-openapi3 copies this onto the view it registers, so the before-request hook
    # can refuse the caller before the body is validated (401/403 before 422).
    setattr(guarded, _REQUIRES, roles)
    return guarded  # type: ignore[return-value]


def require_user(view: F) -> F:
    """Let any authenticated caller through (401 otherwise)."""
    return _guard(view, ())


def require_role(*roles: str) -> Callable[[F], F]:
    """Let through callers holding any of ``roles`` (401 without a good token, 403 without the role)."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    return lambda view: _guard(view, roles)
