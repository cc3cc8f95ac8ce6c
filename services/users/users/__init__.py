"""Users: accounts, passwords, access and refresh tokens, and the keys that sign them."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import Response
from flask_openapi3 import OpenAPI

from flotilla import auth, proxies
from flotilla.app import create_service_app, init_database
from flotilla.auth import revocation
from flotilla.problems import Problem, problem_response
from flotilla.settings import load_settings
from users import api, cli, metrics, service
from users.config import UsersSettings
from users.model import (
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginThrottled,
    NotAllowed,
    UserNotFound,
)
from users.passwords import Passwords
from users.repository import start_mappers
from users.sessions import Sessions
from users.signing import DatabaseKeySource, NoSigningKey, TokenIssuer

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

#: Our exceptions, mapped to HTTP once, here.
PROBLEMS: dict[type[Exception], int] = {
    EmailTaken: 409,
    InvalidCredentials: 401,
    InvalidRefreshToken: 401,
    NotAllowed: 403,
    UserNotFound: 404,
    NoSigningKey: 503,
}


def create_app(settings: UsersSettings | None = None, *, for_cli: bool = False) -> OpenAPI:
    """The users app. At start-up (not for the CLI) it makes sure a signing key exists
    and, when ``FLOTILLA_ADMIN_EMAIL``/``FLOTILLA_ADMIN_PASSWORD`` are set, an admin."""
    settings = settings or load_settings(UsersSettings)
    app = create_service_app("users", settings, exceptions=PROBLEMS,
                             security_schemes=auth.SECURITY_SCHEMES)
    proxies.install(app, settings.trusted_proxy_addresses, settings.trusted_proxies)
    start_mappers()
    db = init_database(app, settings.database_url)
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
    issuer = TokenIssuer(settings.jwt_issuer, settings.jwt_audience, settings.jwt_access_ttl,
                         settings.refresh_ttl)
    app.extensions["users_sessions"] = Sessions(
        db, passwords, issuer, window=settings.login_window,
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address)
    auth.init_app(app, settings, key_source=DatabaseKeySource(db))
    # users owns the identities: a token of an erased account is refused at once.
    revocation.install(app, lambda caller: service.is_revoked(db, caller))
    app.extensions["users_settings"] = settings
    app.register_error_handler(LoginThrottled, _throttled)
    app.register_api(api.auth_bp)
    app.register_api(api.users_bp)
    for collector in metrics.COLLECTORS:
        app.extensions["flotilla_metrics"].registry.register(collector)
    cli.init_app(app, MIGRATIONS)
    # Under `flask --app users ...` (a click context) tables may not exist yet: `migrate` must run.
    if not for_cli and click.get_current_context(silent=True) is None:
        service.ensure_signing_key(db)
        admin = settings.admin_credentials()
        if admin:
            user, created = service.ensure_admin(db, passwords, *admin)
            log.info("admin %s %s from FLOTILLA_ADMIN_EMAIL", user.id, "created" if created else "present")
    return app


def _throttled(exc: LoginThrottled) -> Response:
    log.warning("login throttled; retry in %ss", exc.retry_after)
    return problem_response(Problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)},
                                    slug="login-throttled"))
