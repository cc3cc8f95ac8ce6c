"""/users/me, /users and /users/{id}, and erasing an account."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from users.bootstrap import users_of
from users.repository import users


def _admin(client) -> dict:
    credentials = {"email": "root@flotilla.test", "password": "root password 1"}
    pair = client.post("/auth/login", json=credentials).json
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_me_is_the_caller(client, login):
    pair = login()
    response = client.get("/users/me", headers=pair["headers"])
    assert response.status_code == 200
    assert response.json["id"] == pair["user"]["id"]
    assert client.get("/users/me").status_code == 401


def test_listing_users_is_for_admins_and_pages(client, login, register):
    for _ in range(3):
        register()
    assert client.get("/users", headers=login()["headers"]).status_code == 403
    admin = _admin(client)
    seen, cursor = [], None
    while True:
        page = client.get("/users?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=admin).json
        assert len(page["items"]) <= 2
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5  # root, the customer who tried, three more


def test_one_user_for_self_or_admin_only(client, login):
    me, other = login(), login()
    assert client.get(f"/users/{me['user']['id']}", headers=me["headers"]).status_code == 200
    assert client.get(f"/users/{other['user']['id']}", headers=me["headers"]).status_code == 403
    admin = _admin(client)
    assert client.get(f"/users/{other['user']['id']}", headers=admin).json["id"] == other["user"]["id"]
    assert client.get(f"/users/{uuid.uuid4()}", headers=admin).status_code == 404


def test_deleting_me_erases_personal_data_and_revokes_tokens(app, client, login):
    pair = login()
    user = pair["user"]
    assert client.delete("/users/me", headers=pair["headers"]).status_code == 204
    assert client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    login_again = client.post("/auth/login", json={"email": user["email"], "password": user["password"]})
    assert login_again.status_code == 401
    # users checks its own database: the erased account's still-unexpired token is revoked.
    assert client.get("/users/me", headers=pair["headers"]).status_code == 401
    assert client.delete("/users/me", headers=pair["headers"]).status_code == 401
    assert client.get(f"/users/{user['id']}", headers=_admin(client)).status_code == 404
    c = users.c
    with users_of(app).uow() as uow:
        row = uow.session.execute(select(c.email, c.name, c.password_hash, c.roles, c.deleted_at)
                                  .where(c.id == uuid.UUID(user["id"]))).one()
    assert row.email is None and row.name is None and row.password_hash is None and row.roles == []
    assert row.deleted_at is not None
    again = client.post("/auth/register", json={"email": user["email"], "password": user["password"],
                                                "name": "New"})
    assert again.status_code == 201 and again.json["id"] != user["id"]
