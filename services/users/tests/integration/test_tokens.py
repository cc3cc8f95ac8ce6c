"""Refresh rotation, reuse detection, logout, and keys: on SQLite and PostgreSQL."""

from __future__ import annotations

import jwt
from click.testing import Result

from users.bootstrap import users_of
from users.repository import UnitOfWork
from users.signing import hash_refresh_token


def _refresh(client, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_refresh_spends_the_old_token_and_returns_a_new_pair(client, login):
    first = login()
    second = _refresh(client, first["refresh_token"])
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert second.json["access_token"] != first["access_token"]
    assert _refresh(client, second.json["refresh_token"]).status_code == 200


def test_reusing_a_spent_token_revokes_the_whole_family(client, login):
    first = login()
    second = _refresh(client, first["refresh_token"]).json
    reuse = _refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.content_type == "application/problem+json"
    assert _refresh(client, second["refresh_token"]).status_code == 401  # the thief's copy is dead too
    other_session = login(first["user"])  # a new login starts a new family
    assert _refresh(client, other_session["refresh_token"]).status_code == 200


def test_unknown_and_expired_refresh_tokens_are_401(client, login, app):
    assert _refresh(client, "made-up").status_code == 401
    pair = login()
    with users_of(app).uow(write=True) as uow:
        token = uow.refresh_tokens.by_hash(hash_refresh_token(pair["refresh_token"]))
        token.expires_at = token.issued_at
    assert _refresh(client, pair["refresh_token"]).status_code == 401


def test_refresh_tokens_are_stored_only_as_hashes(client, login, app):
    pair = login()
    with users_of(app).uow() as uow:
        assert uow.refresh_tokens.by_hash(pair["refresh_token"]) is None
        assert uow.refresh_tokens.by_hash(hash_refresh_token(pair["refresh_token"])) is not None


def test_logout_revokes_and_needs_the_owner(client, login):
    mine, theirs = login(), login()
    assert client.post("/auth/logout", json={"refresh_token": mine["refresh_token"]}).status_code == 401
    response = client.post("/auth/logout", json={"refresh_token": theirs["refresh_token"]},
                           headers=mine["headers"])
    assert response.status_code == 204
    assert _refresh(client, theirs["refresh_token"]).status_code == 200  # not mine to revoke
    response = client.post("/auth/logout", json={"refresh_token": mine["refresh_token"]},
                           headers=mine["headers"])
    assert response.status_code == 204
    assert _refresh(client, mine["refresh_token"]).status_code == 401


def test_rotation_keeps_the_previous_key_and_retires_older_ones(app, client, login):
    runner = app.test_cli_runner()
    old = login()
    first_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    result: Result = runner.invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    kids = [k["kid"] for k in client.get("/auth/jwks.json").json["keys"]]
    assert len(kids) == 2 and kids[1] == first_kid
    new = login()
    assert jwt.get_unverified_header(new["access_token"])["kid"] == kids[0]
    assert client.get("/users/me", headers=old["headers"]).status_code == 200  # still verifies
    assert runner.invoke(args=["rotate-keys"]).exit_code == 0
    assert first_kid not in [k["kid"] for k in client.get("/auth/jwks.json").json["keys"]]
    assert client.get("/users/me", headers=old["headers"]).status_code == 401
    assert client.get("/users/me", headers=new["headers"]).status_code == 200


def test_the_key_set_holds_public_halves_only(client):
    keys = client.get("/auth/jwks.json").json["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_create_admin_cli_creates_then_promotes(app, client, register):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--email", "Boss@Example.org",
                                 "--password", "boss password"])
    assert result.exit_code == 0, result.output
    assert "created admin boss@example.org" in result.output
    user = register()
    result = runner.invoke(args=["create-admin", "--email", user["email"], "--password", "ignored123"])
    assert "promoted" in result.output
    pair = client.post("/auth/login", json={"email": user["email"], "password": user["password"]}).json
    assert "admin" in jwt.decode(pair["access_token"], options={"verify_signature": False})["roles"]
    bad = runner.invoke(args=["create-admin", "--email", "x@y.org", "--password", "short"])
    assert bad.exit_code != 0


def test_purge_drops_long_expired_tokens_and_ended_windows_only(app, client, login):
    from datetime import timedelta

    from users.housekeeping import purge

    old, fresh = login(), login()
    client.post("/auth/login", json={"email": "nobody@example.org", "password": "wrong pass"})
    db = users_of(app).db
    with UnitOfWork(db, write=True) as uow:
        token = uow.refresh_tokens.by_hash(hash_refresh_token(old["refresh_token"]))
        token.expires_at = token.issued_at - timedelta(days=2)
    nothing_yet = purge(users_of(app).uow, login_window=900)
    assert nothing_yet.refresh_tokens == 1 and nothing_yet.login_counters == 0
    later = purge(users_of(app).uow, login_window=900, now=token.issued_at + timedelta(hours=1))
    assert later.login_counters >= 1
    assert _refresh(client, fresh["refresh_token"]).status_code == 200
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "purged" in result.output
