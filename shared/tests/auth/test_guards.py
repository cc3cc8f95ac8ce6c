"""require_user / require_role at a Flask edge: 401, 403, 503 as problem+json, the caller for the view."""

from __future__ import annotations

import pytest
from flask import Response, jsonify
from jwt import PyJWK
from pydantic import BaseModel, ConfigDict

from flotilla import auth
from flotilla.app import create_service_app
from flotilla.auth import AuthSettings, KeySource, KeySourceUnavailable
from flotilla.testing.tokens import TokenMinter

PROBLEM = "application/problem+json"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    n: int


class DownKeys(KeySource):
    def key_for(self, kid: str) -> PyJWK:
        raise KeySourceUnavailable("users is down")


def build(key_source: KeySource):
    app = create_service_app("auth-test", AuthSettings(log_format="console"),
                             security_schemes=auth.SECURITY_SCHEMES)
    auth.init_app(app, AuthSettings(), key_source)

    @app.get("/me", security=auth.SECURITY)
    @auth.require_user
    def me() -> Response:
        caller = auth.current_caller()
        return jsonify(user_id=str(caller.user_id), roles=sorted(caller.roles))

    @app.post("/admin", security=auth.SECURITY)
    @auth.require_role("admin")
    def admin(body: Body) -> Response:
        return jsonify(n=body.n, by=str(auth.current_caller().user_id))

    return app


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def client(minter):
    return build(minter.key_source()).test_client()


def test_the_view_gets_the_caller(client, minter):
    response = client.get("/me", headers=minter.bearer("00000000-0000-0000-0000-000000000001", ["customer"]))
    assert response.json == {"user_id": "00000000-0000-0000-0000-000000000001", "roles": ["customer"]}


def test_no_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/me")
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="flotilla"'


def test_a_bad_token_is_401_invalid_token(client, minter):
    response = client.get("/me", headers={"Authorization": "Bearer " + minter.mint() + "x"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_missing_role_is_403_before_the_body_is_validated(client, minter):
    response = client.post("/admin", json={"n": "not an int"}, headers=minter.bearer())
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert client.post("/admin", json={"n": "x"}).status_code == 401


def test_the_role_holder_gets_through(client, minter):
    response = client.post("/admin", json={"n": 3}, headers=minter.bearer(roles=["admin"]))
    assert response.status_code == 200
    assert response.json["n"] == 3


def test_no_keys_at_hand_is_503_not_401(minter):
    client = build(DownKeys()).test_client()
    response = client.get("/me", headers=minter.bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_current_caller_outside_a_guard_is_a_programming_error(minter):
    app = build(minter.key_source())
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        auth.current_caller()


def test_require_role_needs_a_role():
    with pytest.raises(ValueError):
        auth.require_role()


def test_options_needs_no_token_but_head_does(client):
    assert client.options("/me").status_code == 200
    assert client.head("/me").status_code == 401
