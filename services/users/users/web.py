"""The users HTTP API: ``create_app`` builds it (``users.create_app`` names this one)."""

from __future__ import annotations

import logging

import click
from flask import Response
from flask_openapi3 import OpenAPI

from flotilla import auth, proxies
from flotilla import metrics as kit_metrics
from flotilla.app import create_service_app, init_database
from flotilla.auth import revocation
from flotilla.problems import Problem, problem_response
from flotilla.settings import load_settings
from users import MIGRATIONS, api, cli, metrics, service
from users.bootstrap import bootstrap, install
from users.config import UsersSettings
from users.model import (
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginThrottled,
    NotAllowed,
    UserNotFound,
)
from users.signing import DatabaseKeySource, NoSigningKey

log = logging.getLogger(__name__)

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
    users = bootstrap(settings, db=init_database(app, settings.database_url))
    install(app, users)
    auth.init_app(app, settings, key_source=DatabaseKeySource(users.uow))
    # users owns the identities: a token of an erased account is refused at once.
    revocation.install(app, lambda caller: service.is_revoked(users.uow, caller))
    app.register_error_handler(LoginThrottled, _throttled)
    app.register_api(api.auth_bp)
    app.register_api(api.users_bp)
    for collector in metrics.COLLECTORS:
        kit_metrics.registry_of(app).register(collector)
    cli.init_app(app, MIGRATIONS)
    # Under `flask --app users ...` (a click context) tables may not exist yet: `migrate` must run.
    if not for_cli and click.get_current_context(silent=True) is None:
        service.ensure_signing_key(users.uow)
        admin = settings.admin_credentials()
        if admin:
            user, created = service.ensure_admin(users.uow, users.passwords, *admin)
            log.info("admin %s %s from FLOTILLA_ADMIN_EMAIL", user.id, "created" if created else "present")
    return app


def _throttled(exc: LoginThrottled) -> Response:
    log.warning("login throttled; retry in %ss", exc.retry_after)
    return problem_response(Problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)},
                                    slug="login-throttled"))
