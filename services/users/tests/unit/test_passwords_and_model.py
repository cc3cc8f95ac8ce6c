"""Passwords, emails, erasure and refresh-token state: no database, no Flask."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from users.model import ADMIN, RefreshToken, User, normalise_email
from users.passwords import Passwords


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_hashes_are_argon2id_at_owasp_parameters_and_verify(passwords):
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "Correct horse battery")
    assert not passwords.needs_rehash(stored)


def test_no_account_never_verifies(passwords):
    assert not passwords.verify(None, "anything at all")
    assert not passwords.verify("not-a-hash", "anything at all")


def test_older_parameters_need_a_rehash(passwords):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert passwords.verify(old, "pw")
    assert passwords.needs_rehash(old)


@pytest.mark.parametrize("raw, normal", [(" A@B.org ", "a@b.org"),
                                         ("Ada.L+x@Example.COM", "ada.l+x@example.com")])
def test_emails_are_normalised(raw, normal):
    assert normalise_email(raw) == normal


@pytest.mark.parametrize("raw", ["", "plain", "a@b", "a b@c.org", "@b.org", "a@b.", "x" * 250 + "@b.org"])
def test_malformed_emails_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_email(raw)


def test_erasing_a_user_forgets_everything_personal():
    user = User(email="a@b.org", name="Ada", password_hash="$argon2id$...")
    user.grant(ADMIN)
    user.erase()
    assert (user.email, user.name, user.password_hash, user.roles) == (None, None, None, [])
    assert user.is_deleted


def test_a_refresh_token_is_used_once_spent_or_revoked():
    token = RefreshToken.issue(uuid.uuid4(), "h", timedelta(days=1))
    assert not token.was_used and not token.is_expired
    token.spend()
    assert token.was_used
    expired = RefreshToken.issue(uuid.uuid4(), "h", timedelta(seconds=-1))
    assert expired.is_expired


def test_an_unknown_account_costs_as_much_as_a_wrong_password(passwords):
    import statistics
    import time

    stored = passwords.hash("the real password")

    def median_seconds(password_hash: str | None) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            passwords.verify(password_hash, "a wrong password")
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    unknown, wrong = median_seconds(None), median_seconds(stored)
    assert 1 / 3 < unknown / wrong < 3, (unknown, wrong)  # the same argon2 work, not a shortcut
