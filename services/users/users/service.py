"""Users' account and key use cases. They take a unit-of-work factory (``uow``), plain values
and collaborators: never a request, never a ``Database``."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from flotilla.auth import Caller
from flotilla.db import utcnow
from flotilla.unit_of_work import UnitOfWorkFactory
from users import metrics
from users.events import UserDeleted, UserRegistered
from users.model import ADMIN, EmailTaken, NotAllowed, User, UserNotFound, normalise_email
from users.passwords import Passwords
from users.repository import UnitOfWork
from users.signing import generate_signing_key
from users.throttle import account_key

log = logging.getLogger(__name__)

#: Published keys: the one that signs and the one before it, for tokens still in flight.
PUBLISHED_KEYS = 2


@dataclass(frozen=True)
class Page:
    items: list[User]
    next_cursor: uuid.UUID | None


def register(uow: UnitOfWorkFactory[UnitOfWork], passwords: Passwords, email: str, password: str, name: str,
             roles: list[str] | None = None) -> User:
    user = User(email=normalise_email(email), name=name, password_hash=passwords.hash(password))
    if roles:
        user.roles = list(roles)
    try:
        with uow(write=True) as tx:
            if tx.users.by_email(user.email or "") is not None:
                raise EmailTaken()
            tx.users.add(user)
            tx.outbox.add(UserRegistered(user_id=user.id, roles=user.roles,
                                         registered_at=user.created_at), user.id)
    except IntegrityError:  # the same email registered concurrently
        raise EmailTaken() from None
    return user


def get_user(uow: UnitOfWorkFactory[UnitOfWork], caller: Caller, user_id: uuid.UUID) -> User:
    """One account, for its owner or an admin."""
    if caller.user_id != user_id and not caller.is_admin:
        raise NotAllowed("Only admins may see other accounts.")
    with uow() as tx:
        user = tx.users.get(user_id)
    if user is None:
        raise UserNotFound(user_id)
    return user


def list_users(uow: UnitOfWorkFactory[UnitOfWork], limit: int, after: uuid.UUID | None = None) -> Page:
    with uow() as tx:
        rows = tx.users.page(limit + 1, after)
    items = rows[:limit]
    return Page(items, items[-1].id if len(rows) > limit else None)


def is_revoked(uow: UnitOfWorkFactory[UnitOfWork], caller: Caller) -> bool:
    """users' own revocation check: the account is erased, or this access token was logged out."""
    with uow() as tx:
        if tx.users.get(caller.user_id) is None:
            return True
        if caller.token_id is not None and tx.revoked_access_tokens.is_revoked(caller.token_id):
            return True
        return _session_revoked(tx, caller.session_id)


def _session_revoked(tx: UnitOfWork, session_id: str | None) -> bool:
    """Was the access token's login session (its refresh family) logged out or reused?"""
    if session_id is None:
        return False
    try:
        family = uuid.UUID(session_id)
    except ValueError:
        return True  # users never signs such a sid
    return tx.refresh_tokens.family_revoked(family)


def delete_me(uow: UnitOfWorkFactory[UnitOfWork], caller: Caller) -> None:
    """Erase the caller's personal data and revoke every refresh token, in one unit of work.

    The ``user.deleted`` outbox row is written in this same transaction.
    """
    with uow(write=True) as tx:
        user = tx.users.get(caller.user_id, for_update=True)
        if user is None:
            raise UserNotFound(caller.user_id)
        if user.email:
            tx.login_failures.forget(account_key(user.email))
        user.erase()
        tx.refresh_tokens.revoke_all_of(user.id)
        tx.outbox.add(UserDeleted(user_id=user.id, deleted_at=user.deleted_at), user.id)
    metrics.revoked("erasure")
    log.info("user %s erased", caller.user_id)


def ensure_admin(uow: UnitOfWorkFactory[UnitOfWork], passwords: Passwords, email: str, password: str,
                 name: str = "Administrator") -> tuple[User, bool]:
    """Create an admin, or make an existing account one (its password is left alone).

    Returns the user and whether it was created. Safe to run from several workers at once.
    """
    with uow(write=True) as tx:
        existing = tx.users.by_email(normalise_email(email))
        if existing is not None:
            existing.grant(ADMIN)
            return existing, False
    try:
        return register(uow, passwords, email, password, name, roles=[ADMIN]), True
    except EmailTaken:  # another worker won the race
        return ensure_admin(uow, passwords, email, password, name)


def rotate_keys(uow: UnitOfWorkFactory[UnitOfWork], *, only_if_none: bool = False) -> str:
    """Publish a new signing key; keep the previous one published, retire the rest.

    ``only_if_none``: start-up in several workers at once makes one first key, not one each.
    """
    key = generate_signing_key()  # outside the transaction: RSA key generation takes a while
    with uow(write=True) as tx:
        tx.signing_keys.lock()
        if only_if_none and (published := tx.signing_keys.published()):
            return published[0].kid
        tx.signing_keys.add(key)
        tx.session.flush()
        for old in tx.signing_keys.published()[PUBLISHED_KEYS:]:
            old.retire()
    log.info("signing key %s published", key.kid)
    return key.kid


def ensure_signing_key(uow: UnitOfWorkFactory[UnitOfWork]) -> None:
    """Make the first signing key when there is none (start-up)."""
    with uow() as tx:
        if tx.signing_keys.published():
            return
    rotate_keys(uow, only_if_none=True)


def revocations(uow: UnitOfWorkFactory[UnitOfWork], horizon_s: float) -> dict[str, Any]:
    """Identities revoked recently enough that one of their access tokens may still be alive."""
    since = utcnow() - timedelta(seconds=horizon_s)
    with uow() as tx:
        rows = tx.users.deleted_since(since)
        tokens = tx.revoked_access_tokens.live(utcnow())
        sessions = tx.refresh_tokens.families_revoked_since(since)
    return {"users": [{"user_id": str(uid), "not_before": at.timestamp()} for uid, at in rows],
            "tokens": sorted(tokens), "sessions": sorted(str(s) for s in sessions)}


def jwks(uow: UnitOfWorkFactory[UnitOfWork]) -> dict[str, Any]:
    with uow() as tx:
        return {"keys": [dict(k.public_jwk) for k in tx.signing_keys.published()]}
