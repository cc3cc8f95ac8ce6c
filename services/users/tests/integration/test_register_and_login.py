"""Registering and logging in, on SQLite and PostgreSQL."""

from __future__ import annotations

import jwt

from users.bootstrap import users_of
from users.model import ADMIN
from users.repository import UnitOfWork

PROBLEM = "application/problem+json"


def _login(client, user: dict):
    return client.post("/auth/login", json={"email": user["email"], "password": user["password"]})


def test_register_normalises_the_email_and_returns_no_password(client):
    response = client.post("/auth/register", json={"email": "  Ada.L@Example.ORG ", "password": "0123456789",
                                                   "name": "Ada"})
    assert response.status_code == 201
    assert response.json["email"] == "ada.l@example.org"
    assert set(response.json) == {"id", "email", "name", "roles", "created_at"}
    assert response.json["roles"] == ["customer"]
    assert response.headers["Location"] == f"/users/{response.json['id']}"


def test_the_same_email_in_another_case_is_409(client, register):
    register(email="dup@example.org")
    response = client.post("/auth/register", json={"email": "DUP@example.org", "password": "0123456789",
                                                   "name": "B"})
    assert response.status_code == 409
    assert response.content_type == PROBLEM


def test_register_validates_every_field_without_echoing_the_password(client):
    cases = [{"email": "no-at-sign", "password": "0123456789", "name": "A"},
             {"email": "a@b.org", "password": "short-pw1", "name": "A"},
             {"email": "a@b.org", "password": "x" * 129, "name": "A"},
             {"email": "a@b.org", "password": "0123456789", "name": ""},
             {"email": "a@b.org", "password": "0123456789", "name": "A", "roles": ["admin"]},
             {"email": "a@b.org", "password": 1234567890, "name": "A"}]
    for body in cases:
        response = client.post("/auth/register", json=body)
        assert response.status_code == 422, body
        assert response.content_type == PROBLEM
        assert str(body["password"]) not in response.get_data(as_text=True)


def test_login_returns_a_bearer_pair_with_the_promised_claims(client, register, app):
    user = register()
    response = client.post("/auth/login", json={"email": user["email"].upper(), "password": user["password"]})
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] in {k["kid"] for k in client.get("/auth/jwks.json").json["keys"]}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "aud", "sub", "exp", "iat", "jti", "roles"} <= claims.keys()
    assert claims["sub"] == user["id"] and claims["roles"] == ["customer"]
    assert claims["exp"] - claims["iat"] == 900


def test_unknown_email_and_wrong_password_answer_alike(client, register):
    user = register()
    wrong = client.post("/auth/login", json={"email": user["email"], "password": "not the password"})
    unknown = client.post("/auth/login", json={"email": "nobody@example.org", "password": "whatever12"})
    assert wrong.status_code == unknown.status_code == 401
    strip = {"request_id", "instance"}
    assert {k: v for k, v in wrong.json.items() if k not in strip} == \
        {k: v for k, v in unknown.json.items() if k not in strip}


def test_passwords_are_stored_as_argon2id_at_the_owasp_parameters(app, register):
    user = register()
    with app.app_context(), users_of(app).uow() as uow:
        stored = uow.users.by_email(user["email"])
    assert stored is not None and stored.password_hash
    assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert user["password"] not in stored.password_hash


def test_an_old_hash_is_upgraded_at_the_next_login(app, client, register):
    from argon2 import PasswordHasher

    user = register()
    db = users_of(app).db
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(user["password"])
    with UnitOfWork(db, write=True) as uow:
        uow.users.by_email(user["email"]).change_password_hash(old)
    assert _login(client, user).status_code == 200
    with UnitOfWork(db) as uow:
        upgraded = uow.users.by_email(user["email"]).password_hash
    assert upgraded != old and upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert _login(client, user).status_code == 200


def test_the_admin_from_the_environment_exists_once(app, client, settings):
    from users import create_app

    users_of(create_app(settings)).db.dispose()  # a second worker starting
    pair = client.post("/auth/login", json={"email": "root@flotilla.test", "password": "root password 1"})
    assert pair.status_code == 200
    claims = jwt.decode(pair.json["access_token"], options={"verify_signature": False})
    assert ADMIN in claims["roles"]
    listing = client.get("/users", headers={"Authorization": f"Bearer {pair.json['access_token']}"}).json
    assert [u["email"] for u in listing["items"]].count("root@flotilla.test") == 1
    assert len(client.get("/auth/jwks.json").json["keys"]) == 1
