"""users checks its own database: an erased account's unexpired access token is refused at once."""

from __future__ import annotations

from flotilla import migrations
from users import MIGRATIONS, create_app
from users.bootstrap import users_of
from users.config import UsersSettings

from .test_accounts import _admin


def test_a_deleted_admins_token_no_longer_lists_users(client):
    admin = _admin(client)
    assert client.get("/users", headers=admin).status_code == 200
    assert client.delete("/users/me", headers=admin).status_code == 204
    response = client.get("/users", headers=admin)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_deleted_customers_token_is_refused_but_others_still_work(client, login):
    gone, kept = login(), login()
    assert client.delete("/users/me", headers=gone["headers"]).status_code == 204
    assert client.get("/users/me", headers=gone["headers"]).status_code == 401
    assert client.get("/users/me", headers=kept["headers"]).status_code == 200


def test_the_admin_recreated_at_start_up_is_a_new_identity(settings: UsersSettings, client):
    admin = _admin(client)
    assert client.delete("/users/me", headers=admin).status_code == 204
    migrations.upgrade(MIGRATIONS, settings.database_url)
    again = create_app(settings)
    try:
        assert again.test_client().get("/users", headers=admin).status_code == 401
    finally:
        users_of(again).db.dispose()


def test_logout_revokes_the_access_token_it_was_made_with_and_lists_it(client, login):
    pair = login()
    other = login(pair["user"])  # another session of the same account
    assert client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]},
                       headers=pair["headers"]).status_code == 204
    assert client.get("/users/me", headers=pair["headers"]).status_code == 401
    assert client.get("/users/me", headers=other["headers"]).status_code == 200
    listed = client.get("/auth/revocations.json")
    assert listed.status_code == 200
    assert len(listed.json["tokens"]) == 1
    assert client.get("/auth/revocations.json",
                      headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304


def test_the_revocation_list_names_erased_accounts(client, login):
    pair = login()
    assert client.delete("/users/me", headers=pair["headers"]).status_code == 204
    users = client.get("/auth/revocations.json").json["users"]
    assert pair["user"]["id"] in {u["user_id"] for u in users}


def test_purge_drops_revoked_access_tokens_once_they_expire(app, client, login):
    from datetime import timedelta

    from flotilla.db import utcnow
    from users.housekeeping import purge

    pair = login()
    client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=pair["headers"])
    uow = users_of(app).uow
    assert purge(uow, login_window=900).revoked_access_tokens == 0
    assert purge(uow, login_window=900, now=utcnow() + timedelta(hours=1)).revoked_access_tokens == 1
    assert client.get("/auth/revocations.json").json["tokens"] == []


def test_logout_ends_every_access_token_of_its_session(client, login):
    """Refreshed access tokens share the session (``sid``): a logout ends them all, not just one."""
    pair = login()
    other = login(pair["user"])  # another session of the same account
    refreshed = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json
    refreshed_headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert client.get("/users/me", headers=refreshed_headers).status_code == 200
    assert client.post("/auth/logout", json={"refresh_token": refreshed["refresh_token"]},
                       headers=refreshed_headers).status_code == 204
    assert client.get("/users/me", headers=pair["headers"]).status_code == 401  # same session, older token
    assert client.get("/users/me", headers=refreshed_headers).status_code == 401
    assert client.get("/users/me", headers=other["headers"]).status_code == 200
    import jwt

    sid = jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
    assert sid in client.get("/auth/revocations.json").json["sessions"]


def test_a_reused_refresh_token_ends_the_familys_access_tokens(client, login):
    pair = login()
    second = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json
    assert client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    for access in (pair["access_token"], second["access_token"]):
        assert client.get("/users/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
