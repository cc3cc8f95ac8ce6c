"""users checks its own database: an erased account's unexpired access token is refused at once."""

from __future__ import annotations

from flotilla import migrations
from users import MIGRATIONS, create_app
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
        again.extensions["flotilla_db"].dispose()
