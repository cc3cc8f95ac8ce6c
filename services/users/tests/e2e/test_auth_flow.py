"""The account life cycle through a real users service (two gunicorn workers)."""

from __future__ import annotations

import jwt
import requests

PASSWORD = "e2e customer password"


def test_two_workers_starting_together_make_one_admin_and_one_key(stack):
    keys = requests.get(f"{stack.users.base_url}/auth/jwks.json", timeout=10).json()["keys"]
    assert len(keys) == 1  # this runs before any rotation test on the same stack
    pair = stack.admin()
    assert "admin" in jwt.decode(pair["access_token"], options={"verify_signature": False})["roles"]


def test_register_login_refresh_reuse_logout_delete(stack):
    base = stack.users.base_url
    user = stack.register()
    first = stack.login(user["email"], PASSWORD)
    me = requests.get(f"{base}/users/me", headers={"Authorization": f"Bearer {first['access_token']}"},
                      timeout=10)
    assert me.json()["id"] == user["id"]
    second = requests.post(f"{base}/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=10)
    assert second.status_code == 200
    reuse = requests.post(f"{base}/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=10)
    assert reuse.status_code == 401
    dead = requests.post(f"{base}/auth/refresh", json={"refresh_token": second.json()["refresh_token"]},
                         timeout=10)
    assert dead.status_code == 401  # the family went with the reuse

    third = stack.login(user["email"], PASSWORD)
    auth = {"Authorization": f"Bearer {third['access_token']}"}
    out = requests.post(f"{base}/auth/logout", json={"refresh_token": third["refresh_token"]}, headers=auth,
                        timeout=10)
    assert out.status_code == 204
    assert requests.post(f"{base}/auth/refresh", json={"refresh_token": third["refresh_token"]},
                         timeout=10).status_code == 401

    # Logout also revoked the access token it was made with (decision 0080).
    assert requests.get(f"{base}/users/me", headers=auth, timeout=10).status_code == 401
    fourth = stack.login(user["email"], PASSWORD)
    assert requests.delete(f"{base}/users/me", headers={"Authorization": f"Bearer {fourth['access_token']}"},
                           timeout=10).status_code == 204
    assert requests.post(f"{base}/auth/refresh", json={"refresh_token": fourth["refresh_token"]},
                         timeout=10).status_code == 401
    gone = requests.post(f"{base}/auth/login", json={"email": user["email"], "password": PASSWORD},
                         timeout=10)
    assert gone.status_code == 401


def test_throttling_holds_across_workers(stack):
    user = stack.register()
    wrong = {"email": user["email"], "password": "wrong password"}
    statuses = [requests.post(f"{stack.users.base_url}/auth/login", json=wrong, timeout=10).status_code
                for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3


def test_concurrent_spends_of_one_refresh_token_let_exactly_one_through(stack):
    from concurrent.futures import ThreadPoolExecutor

    user = stack.register()
    pair = stack.login(user["email"], PASSWORD)
    url = f"{stack.users.base_url}/auth/refresh"

    def spend(_: int) -> int:
        return requests.post(url, json={"refresh_token": pair["refresh_token"]}, timeout=20).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(spend, range(6)))
    assert statuses == [200] + [401] * 5
