"""Accounts, refresh tokens and signing keys: the rules, with no framework and no session."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flotilla.db import utcnow

CUSTOMER, ADMIN = "customer", "admin"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class EmailTaken(Exception):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.")


class InvalidCredentials(Exception):
    def __init__(self) -> None:
        super().__init__("The email or password is wrong.")


class InvalidRefreshToken(Exception):
    def __init__(self) -> None:
        super().__init__("The refresh token is not valid; log in again.")


class UserNotFound(Exception):
    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__(f"No user with id {user_id}.")


class NotAllowed(Exception):
    """The caller may not see or change this account."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed logins; try again later.")
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    """Emails are unique without regard to case: stored and compared in lower case."""
    normal = email.strip().lower()
    if len(normal) > 254 or not _EMAIL.match(normal):
        raise ValueError("not an email address")
    return normal


@dataclass(eq=False)
class User:
    email: str | None
    name: str | None
    password_hash: str | None
    roles: list[str] = field(default_factory=lambda: [CUSTOMER])
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def grant(self, role: str) -> None:
        if role not in self.roles:
            self.roles = [*self.roles, role]
            self.updated_at = utcnow()

    def change_password_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.updated_at = utcnow()

    def erase(self) -> None:
        """Forget everything personal; the id stays as a tombstone for other services."""
        self.email = self.name = self.password_hash = None
        self.roles = []
        self.deleted_at = self.updated_at = utcnow()


@dataclass(eq=False)
class RefreshToken:
    """One link of a refresh-token family; only the hash of the secret is kept."""

    user_id: uuid.UUID
    token_hash: str
    family_id: uuid.UUID
    expires_at: datetime
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    issued_at: datetime = field(default_factory=utcnow)
    spent_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(cls, user_id: uuid.UUID, token_hash: str, ttl: timedelta,
              family_id: uuid.UUID | None = None) -> RefreshToken:
        return cls(user_id=user_id, token_hash=token_hash, family_id=family_id or uuid.uuid4(),
                   expires_at=utcnow() + ttl)

    @property
    def was_used(self) -> bool:
        """Spent or revoked: presenting it again means it leaked."""
        return self.spent_at is not None or self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def spend(self) -> None:
        self.spent_at = utcnow()


@dataclass(eq=False)
class SigningKey:
    """A key pair for access tokens. The private half never leaves the users service."""

    kid: str
    algorithm: str
    private_pem: str
    public_jwk: dict[str, object]
    created_at: datetime = field(default_factory=utcnow)
    retired_at: datetime | None = None

    def retire(self) -> None:
        self.retired_at = utcnow()
