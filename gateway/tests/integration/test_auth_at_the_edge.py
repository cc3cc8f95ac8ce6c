"""Tokens are checked at the edge; the original Authorization still reaches the service."""

from __future__ import annotations


def test_a_bad_token_ends_at_the_gateway_with_401(gw, upstreams):
    response = gw.get("/api/v1/users/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert upstreams["users"].count("GET", "/users/me") == 0


def test_a_good_token_is_passed_on_unchanged(gw, minter):
    headers = minter.bearer()
    response = gw.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200
    assert response.json["authorization"] == headers["Authorization"]


def test_anonymous_requests_go_through_and_the_service_decides(gw):
    assert gw.get("/api/v1/products").status_code == 200
    assert gw.get("/api/v1/users/me").json["authorization"] is None


def test_a_token_from_another_issuer_is_refused(gw):
    from flotilla.testing.tokens import TokenMinter

    stranger = TokenMinter()
    assert gw.get("/api/v1/users/me", headers=stranger.bearer()).status_code == 401
