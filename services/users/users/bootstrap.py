"""Users' composition root: settings, database, mappers, password hasher, token issuer,
the unit-of-work factory and the session use cases are built here, once, for the API
(``create_app``), the worker and the CLI alike.

Tests pass fakes by keyword (``bootstrap(settings, passwords=Passwords(1, 8192, 1))``).
The result lives on the app behind one typed accessor, :func:`users_of`; nothing else
reads ``app.extensions`` for users' collaborators.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from flotilla.db import Database
from flotilla.settings import load_settings
from flotilla.unit_of_work import UnitOfWorkFactory
from users.config import UsersSettings
from users.passwords import Passwords
from users.repository import UnitOfWork, start_mappers
from users.sessions import Sessions
from users.signing import TokenIssuer

EXTENSION = "users"


@dataclass
class Users:
    """Everything users' use cases are handed."""

    settings: UsersSettings
    db: Database
    uow: UnitOfWorkFactory[UnitOfWork]
    passwords: Passwords
    issuer: TokenIssuer
    sessions: Sessions


def bootstrap(settings: UsersSettings | None = None, *, db: Database | None = None,
              passwords: Passwords | None = None, issuer: TokenIssuer | None = None) -> Users:
    """``db``: the API passes the one ``init_database`` made (readiness, teardown)."""
    settings = settings or load_settings(UsersSettings)
    start_mappers()  # idempotent: maps once per process
    db = db or Database(settings.database_url)
    uow = UnitOfWork.factory(db)
    passwords = passwords or Passwords(settings.argon2_time_cost, settings.argon2_memory_kib,
                                       settings.argon2_parallelism)
    issuer = issuer or TokenIssuer(settings.jwt_issuer, settings.jwt_audience,
                                   settings.jwt_access_ttl, settings.refresh_ttl)
    sessions = Sessions(uow, passwords, issuer, window=settings.login_window,
                        per_account=settings.login_max_failures_per_account,
                        per_address=settings.login_max_failures_per_address)
    return Users(settings=settings, db=db, uow=uow, passwords=passwords, issuer=issuer,
                 sessions=sessions)


def install(app: Flask, users: Users) -> None:
    app.extensions[EXTENSION] = users


def users_of(app: Flask | None = None) -> Users:
    """The composition root's result for ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    found: Users = target.extensions[EXTENSION]
    return found
