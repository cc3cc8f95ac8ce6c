"""The in-process revocation list: per-user not-before times and single token ids."""

from __future__ import annotations

import uuid

from flotilla.auth import Caller, RevocationList


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _caller(user: uuid.UUID, iat: float | None, jti: str = "t") -> Caller:
    return Caller(user_id=user, token_id=jti, issued_at=iat)


def test_tokens_issued_before_the_not_before_time_are_revoked_later_ones_not():
    clock = Clock()
    revoked = RevocationList(retain_seconds=900, clock=clock)
    user, other = uuid.uuid4(), uuid.uuid4()
    revoked.revoke_user(user, not_before=clock.now)
    assert revoked.is_revoked(_caller(user, clock.now - 10))
    assert revoked.is_revoked(_caller(user, None))
    assert not revoked.is_revoked(_caller(user, clock.now + 1))
    assert not revoked.is_revoked(_caller(other, clock.now - 10))


def test_a_single_token_id_is_revoked():
    revoked = RevocationList()
    user = uuid.uuid4()
    revoked.revoke_token("abc")
    assert revoked.is_revoked(_caller(user, 0, "abc"))
    assert not revoked.is_revoked(_caller(user, 0, "def"))


def test_entries_are_forgotten_once_no_token_can_match():
    clock = Clock()
    revoked = RevocationList(retain_seconds=900, clock=clock)
    revoked.revoke_user(uuid.uuid4(), clock.now)
    revoked.revoke_token("abc")
    assert len(revoked) == 2
    clock.now += 901
    assert revoked.prune() == 2
    assert len(revoked) == 0


def test_a_later_not_before_wins_an_earlier_one_does_not_undo_it():
    clock = Clock()
    revoked = RevocationList(clock=clock)
    user = uuid.uuid4()
    revoked.revoke_user(user, clock.now)
    revoked.revoke_user(user, clock.now - 100)
    assert revoked.is_revoked(_caller(user, clock.now - 50))


def test_the_guards_refuse_a_revoked_caller_with_401():
    import time

    from flotilla.auth import revocation
    from flotilla.testing.tokens import TokenMinter

    from .test_guards import build

    minter = TokenMinter()
    app = build(minter.key_source())
    revoked = RevocationList()
    revocation.install(app, revoked.is_revoked)
    client = app.test_client()
    user, other = uuid.uuid4(), uuid.uuid4()
    headers, others = minter.bearer(str(user), ["admin"]), minter.bearer(str(other), ["admin"])
    assert client.get("/me", headers=headers).status_code == 200
    revoked.revoke_user(user, time.time() + 1)
    refused = (client.get("/me", headers=headers), client.post("/admin", json={"n": 1}, headers=headers))
    for response in refused:
        assert response.status_code == 401
        assert response.content_type == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert client.get("/me", headers=others).status_code == 200


def test_a_revoked_session_refuses_its_tokens_only():
    import uuid as _uuid

    from flotilla.auth import Caller
    from flotilla.auth.revocation import RevocationList

    revoked = RevocationList()
    user = _uuid.uuid4()
    revoked.revoke_session("family-1")
    assert revoked.is_revoked(Caller(user_id=user, token_id="a", session_id="family-1"))
    assert not revoked.is_revoked(Caller(user_id=user, token_id="b", session_id="family-2"))
    assert not revoked.is_revoked(Caller(user_id=user, token_id="c"))
    assert len(revoked) == 1
