"""Users' tables, their mapping onto the model, the repositories and the unit of work."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, MetaData, String, Table, Text, Uuid, select, text, update
from sqlalchemy.orm import Session, registry

from flotilla.db import UTCDateTime, utcnow
from flotilla.events import Outbox, outbox_table
from flotilla.unit_of_work import UnitOfWork as BaseUnitOfWork
from users.events import registry as events
from users.model import RefreshToken, SigningKey, User
from users.throttle import LoginFailureRepository, login_failures_table

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=True, unique=True),  # NULL once erased
    Column("name", String(200), nullable=True),
    Column("password_hash", String(255), nullable=True),
    Column("roles", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
)

#: Events to other services, written in the same transaction as the change they announce.
outbox = outbox_table(metadata)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("spent_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True, index=True),
)

#: Access tokens (``jti``) refused before they expire: the one a logout was made with.
revoked_access_tokens = Table(
    "revoked_access_tokens", metadata,
    Column("jti", String(64), primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
)

login_failures = login_failures_table(metadata)

_mappers = registry(metadata=metadata)


def start_mappers() -> None:
    """Map the model onto the tables, once per process."""
    if not _mappers.mappers:
        _mappers.map_imperatively(User, users)
        _mappers.map_imperatively(RefreshToken, refresh_tokens)
        _mappers.map_imperatively(SigningKey, signing_keys)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User) -> None:
        self.session.add(user)

    def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
        stmt = select(User).where(users.c.id == user_id, users.c.deleted_at.is_(None))
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).one_or_none()

    def by_email(self, email: str) -> User | None:
        stmt = select(User).where(users.c.email == email, users.c.deleted_at.is_(None))
        return self.session.scalars(stmt).one_or_none()

    def deleted_since(self, since: datetime) -> list[tuple[uuid.UUID, datetime]]:
        """``(id, deleted_at)`` of accounts erased at or after ``since``."""
        c = users.c
        stmt = select(c.id, c.deleted_at).where(c.deleted_at >= since).order_by(c.deleted_at, c.id)
        return [(row.id, row.deleted_at) for row in self.session.execute(stmt)]

    def page(self, limit: int, after: uuid.UUID | None) -> list[User]:
        stmt = select(User).where(users.c.deleted_at.is_(None))
        if after is not None:
            stmt = stmt.where(users.c.id > after)
        return list(self.session.scalars(stmt.order_by(users.c.id).limit(limit)))


class RefreshTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: RefreshToken) -> None:
        self.session.add(token)

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(refresh_tokens.c.token_hash == token_hash).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def revoke_family(self, family_id: uuid.UUID) -> None:
        c = refresh_tokens.c
        self.session.execute(update(refresh_tokens).where(c.family_id == family_id, c.revoked_at.is_(None))
                             .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})

    def family_revoked(self, family_id: uuid.UUID) -> bool:
        c = refresh_tokens.c
        stmt = select(c.id).where(c.family_id == family_id, c.revoked_at.is_not(None)).limit(1)
        return self.session.execute(stmt).first() is not None

    def families_revoked_since(self, since: datetime) -> list[uuid.UUID]:
        """Sessions (refresh families) revoked at or after ``since``: logged out or reused."""
        c = refresh_tokens.c
        stmt = select(c.family_id).where(c.revoked_at >= since).distinct()
        return list(self.session.scalars(stmt))

    def revoke_all_of(self, user_id: uuid.UUID) -> None:
        c = refresh_tokens.c
        self.session.execute(update(refresh_tokens).where(c.user_id == user_id, c.revoked_at.is_(None))
                             .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})


class SigningKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: SigningKey) -> None:
        self.session.add(key)

    def lock(self) -> None:
        """Serialise key changes (start-up in several workers, rotations) until commit.

        SQLite writers are already serialised by ``BEGIN IMMEDIATE``.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"))

    def published(self) -> list[SigningKey]:
        """Keys not retired, newest first: the first one signs, all verify."""
        c = signing_keys.c
        stmt = select(SigningKey).where(c.retired_at.is_(None)).order_by(c.created_at.desc(), c.kid.desc())
        return list(self.session.scalars(stmt))

    def get_published(self, kid: str) -> SigningKey | None:
        c = signing_keys.c
        stmt = select(SigningKey).where(c.kid == kid, c.retired_at.is_(None))
        return self.session.scalars(stmt).one_or_none()


class RevokedAccessTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        t = revoked_access_tokens.c
        if self.session.execute(select(t.jti).where(t.jti == jti)).first() is None:
            self.session.execute(revoked_access_tokens.insert().values(
                jti=jti, user_id=user_id, expires_at=expires_at))

    def is_revoked(self, jti: str) -> bool:
        t = revoked_access_tokens.c
        return self.session.execute(select(t.jti).where(t.jti == jti)).first() is not None

    def live(self, now: datetime) -> list[str]:
        t = revoked_access_tokens.c
        return list(self.session.scalars(select(t.jti).where(t.expires_at > now)))


class UnitOfWork(BaseUnitOfWork):
    """Users, their tokens and keys, and the outbox, in one transaction."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    signing_keys: SigningKeyRepository
    login_failures: LoginFailureRepository
    revoked_access_tokens: RevokedAccessTokens
    outbox: Outbox

    def _bind(self, session: Session) -> None:
        super()._bind(session)
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.signing_keys = SigningKeyRepository(session)
        self.login_failures = LoginFailureRepository(session, login_failures)
        self.revoked_access_tokens = RevokedAccessTokens(session)
        self.outbox = Outbox(session, outbox, events.source)
