"""Users' account use cases on a unit of work kept in memory: no database, no Flask."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flotilla.auth import Caller
from flotilla.unit_of_work import InMemoryUnitOfWork
from users import service
from users.model import ADMIN, EmailTaken, NotAllowed, User, UserNotFound
from users.passwords import Passwords
from users.throttle import account_key


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, User] = {}

    def add(self, user: User) -> None:
        self.rows[user.id] = user

    def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
        found = self.rows.get(user_id)
        return None if found is None or found.is_deleted else found

    def by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email == email), None)


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.revoked_users: list[uuid.UUID] = []

    def revoke_all_of(self, user_id: uuid.UUID) -> None:
        self.revoked_users.append(user_id)


class FakeLoginFailures:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget(self, key: str) -> None:
        self.forgotten.append(key)


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[tuple[Any, object]] = []

    def add(self, event: Any, aggregate_id: object) -> None:
        self.events.append((event, aggregate_id))


class FakeUnitOfWork(InMemoryUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.users = FakeUsers()
        self.refresh_tokens = FakeRefreshTokens()
        self.login_failures = FakeLoginFailures()
        self.outbox = FakeOutbox()

    def __call__(self, *, write: bool = False) -> FakeUnitOfWork:
        self.write = write
        return self


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(time_cost=1, memory_kib=8192, parallelism=1)  # fast, still argon2id


def test_register_stores_a_customer_and_announces_it(uow: FakeUnitOfWork, passwords: Passwords) -> None:
    user = service.register(uow, passwords, " Ada@Example.org ", "correct horse battery", "Ada")
    assert uow.users.rows == {user.id: user}
    assert user.email == "ada@example.org" and user.roles == ["customer"]
    assert passwords.verify(user.password_hash, "correct horse battery")
    assert [(e.event_name, e.user_id, key) for e, key in uow.outbox.events] == [
        ("user.registered", user.id, user.id)]
    assert uow.commits == 1


def test_an_email_registers_once(uow: FakeUnitOfWork, passwords: Passwords) -> None:
    service.register(uow, passwords, "ada@example.org", "correct horse battery", "Ada")
    with pytest.raises(EmailTaken):
        service.register(uow, passwords, "ADA@example.org", "another password", "Imposter")
    assert len(uow.users.rows) == 1 and len(uow.outbox.events) == 1
    assert uow.rollbacks == 1


def test_only_the_owner_or_an_admin_sees_an_account(uow: FakeUnitOfWork, passwords: Passwords) -> None:
    user = service.register(uow, passwords, "ada@example.org", "correct horse battery", "Ada")
    assert service.get_user(uow, Caller(user.id), user.id) is user
    assert service.get_user(uow, Caller(uuid.uuid4(), frozenset({ADMIN})), user.id) is user
    with pytest.raises(NotAllowed):
        service.get_user(uow, Caller(uuid.uuid4()), user.id)
    with pytest.raises(UserNotFound):
        service.get_user(uow, Caller(uuid.uuid4(), frozenset({ADMIN})), uuid.uuid4())


def test_erasure_forgets_the_person_revokes_tokens_and_announces_it(
        uow: FakeUnitOfWork, passwords: Passwords) -> None:
    user = service.register(uow, passwords, "ada@example.org", "correct horse battery", "Ada")
    service.delete_me(uow, Caller(user.id))
    assert (user.email, user.name, user.password_hash, user.roles) == (None, None, None, [])
    assert uow.refresh_tokens.revoked_users == [user.id]
    assert uow.login_failures.forgotten == [account_key("ada@example.org")]
    assert [e.event_name for e, _ in uow.outbox.events] == ["user.registered", "user.deleted"]
    with pytest.raises(UserNotFound):
        service.delete_me(uow, Caller(user.id))


def test_ensure_admin_creates_once_then_promotes(uow: FakeUnitOfWork, passwords: Passwords) -> None:
    admin, created = service.ensure_admin(uow, passwords, "root@example.org", "root password 1")
    assert created and admin.roles == [ADMIN]
    again, created = service.ensure_admin(uow, passwords, "root@example.org", "other password")
    assert again is admin and not created
    assert passwords.verify(admin.password_hash, "root password 1")  # left alone
    customer = service.register(uow, passwords, "ada@example.org", "correct horse battery", "Ada")
    promoted, created = service.ensure_admin(uow, passwords, "ada@example.org", "ignored password")
    assert promoted is customer and not created and ADMIN in customer.roles
