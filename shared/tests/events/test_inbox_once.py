"""The inbox's one-statement check: a message is recorded once, a second delivery is refused,
and on PostgreSQL a concurrent twin waits for the first transaction and is then refused."""

from __future__ import annotations

import threading

from sqlalchemy import MetaData

from flotilla.db import Database
from flotilla.events import inbox_table
from flotilla.events.inbox import first_delivery


def test_first_delivery_once_then_refused(database_url):
    db = Database(database_url)
    metadata = MetaData()
    inbox = inbox_table(metadata)
    metadata.create_all(db.engine)
    try:
        with db.session(write=True) as session:
            assert first_delivery(session, inbox, "c", "m1")
        with db.session(write=True) as session:
            assert not first_delivery(session, inbox, "c", "m1")
            assert first_delivery(session, inbox, "other", "m1")  # another consumer's inbox
        if db.is_sqlite:
            return
        first = db.session(write=True)
        session = first.__enter__()
        assert first_delivery(session, inbox, "c", "m2")
        twin: dict[str, bool] = {}

        def deliver_again() -> None:
            with db.session(write=True) as other:
                twin["first"] = first_delivery(other, inbox, "c", "m2")

        thread = threading.Thread(target=deliver_again)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()  # waits for the first transaction
        first.__exit__(None, None, None)
        thread.join(10)
        assert twin == {"first": False}
    finally:
        db.dispose()
