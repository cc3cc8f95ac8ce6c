"""users emits user.registered and user.deleted with the change, never with personal data."""

from __future__ import annotations

from sqlalchemy import select

from flotilla.events import Envelope
from users.bootstrap import users_of
from users.events import UserDeleted, UserRegistered
from users.repository import outbox


def _events(app) -> list[Envelope]:
    with users_of(app).db.session() as session:
        rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.id)).scalars()
        return [Envelope.model_validate_json(row) for row in rows]


def test_register_and_erase_write_their_events(app, client, login):
    before = len(_events(app))  # the admin made at start-up registered too
    pair = login()
    user_id = pair["user"]["id"]
    assert client.delete("/users/me", headers=pair["headers"]).status_code == 204
    events = _events(app)[before:]
    assert [e.type for e in events] == ["user.registered.v1", "user.deleted.v1"]
    assert all(e.subject == user_id and e.source == "/flotilla/users" for e in events)
    assert str(events[0].decode(UserRegistered).user_id) == user_id
    assert str(events[1].decode(UserDeleted).user_id) == user_id
    assert all(pair["user"]["email"] not in e.model_dump_json() for e in events)
    assert all(e.correlationid for e in events)  # the request ids of the two calls


def test_a_refused_registration_writes_no_event(app, client, register):
    user = register()
    before = len(_events(app))
    again = client.post("/auth/register", json={"email": user["email"], "password": "another one 1",
                                                "name": "Eve"})
    assert again.status_code == 409
    assert len(_events(app)) == before
