"""Paths a service serves for the platform's own processes are not reachable through the gateway."""

from __future__ import annotations

from gateway.routes import match


def test_the_revocation_list_is_not_routed(upstreams, make_gateway):
    @upstreams["users"].app.get("/auth/revocations.json")
    def revocations():
        return {"users": {"00000000-0000-0000-0000-000000000001": 1}, "tokens": ["secret-jti"]}

    gw = make_gateway()
    for path in ("/api/v1/auth/revocations.json", "/api/v1/auth/revocations.json/",
                 "/api/v1/auth/%72evocations.json"):
        response = gw.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"
        assert b"secret-jti" not in response.data
    assert upstreams["users"].hits["GET /auth/revocations.json"] == 0
    assert match("/auth/login") is not None and match("/auth/revocations.json") is None
