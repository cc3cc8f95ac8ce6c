"""Failed and throttled logins and refresh-token revocations on /metrics (process-wide
counters: the test compares before and after)."""

from __future__ import annotations

from flotilla.testing import metric_value


def _scrape(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    values = {name: metric_value(text, f"flotilla_users_{name}_total", service="users")
              for name in ("login_failures", "logins_throttled")}
    for reason in ("logout", "reuse", "erasure"):
        values[reason] = metric_value(text, "flotilla_users_token_revocations_total", reason=reason)
    return values


def test_failures_throttles_and_revocations_are_counted(client, register, login):
    before = _scrape(client)
    user = register()
    for _ in range(6):  # five failures, then the sixth attempt is throttled unchecked
        client.post("/auth/login", json={"email": user["email"], "password": "wrong password"})
    reused = login()
    assert client.post("/auth/refresh", json={"refresh_token": reused["refresh_token"]}).status_code == 200
    assert client.post("/auth/refresh", json={"refresh_token": reused["refresh_token"]}).status_code == 401
    session = login()
    assert client.post("/auth/logout", json={"refresh_token": session["refresh_token"]},
                       headers=session["headers"]).status_code == 204
    assert client.delete("/users/me", headers=login()["headers"]).status_code == 204
    after = _scrape(client)
    assert {k: after[k] - before[k] for k in after} == {
        "login_failures": 5, "logins_throttled": 1, "logout": 1, "reuse": 1, "erasure": 1}
