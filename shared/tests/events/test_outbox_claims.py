"""The relay's claims on PostgreSQL (two relays never take the same row, nor split an aggregate),
marking, backlog and retention."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import MetaData, update

from flotilla.db import Database, utcnow
from flotilla.events import Event, Outbox, inbox_table, outbox_table
from flotilla.events.inbox import first_delivery
from flotilla.events.metrics import WorkerMetrics
from flotilla.events.outbox import backlog
from flotilla.events.relay import Relay
from flotilla.events.retention import purge_history
from flotilla.events.settings import EventSettings


class Tick(Event):
    event_name = "tick.happened"
    n: int


def _relay(db: Database, table, batch: int) -> Relay:
    return Relay(db, table, EventSettings(relay_batch=batch), WorkerMetrics("t"))


def test_concurrent_claims_skip_locked_rows_and_held_aggregates(postgres_server):
    db = Database(postgres_server.create_database())
    table = outbox_table(MetaData())
    table.metadata.create_all(db.engine)
    with db.session(write=True) as session:
        box = Outbox(session, table, "/flotilla/t")
        for n, agg in enumerate(["a", "b", "a", "c", "d", "c"]):
            box.add(Tick(n=n), aggregate_id=agg)
    first, second = _relay(db, table, 3), _relay(db, table, 10)
    with db.session(write=True) as one, db.session(write=True) as two:
        claimed_one = first._claim(one, lock=True)
        claimed_two = second._claim(two, lock=True)
    ones = [(r.aggregate_id, r.id) for r in claimed_one]
    twos = [(r.aggregate_id, r.id) for r in claimed_two]
    assert [a for a, _ in ones] == ["a", "b", "a"]
    # rows 4..6 are free, but "c" and "d" never had an older row elsewhere; "a" is held by the first
    assert [a for a, _ in twos] == ["c", "d", "c"]
    assert not {i for _, i in ones} & {i for _, i in twos}
    db.dispose()


def test_confirmed_prefix_per_aggregate_is_marked_and_backlog_measured(postgres_server):
    db = Database(postgres_server.create_database())
    table = outbox_table(MetaData())
    table.metadata.create_all(db.engine)
    with db.session(write=True) as session:
        box = Outbox(session, table, "/flotilla/t")
        for n, agg in enumerate(["a", "a", "b", "a"]):
            box.add(Tick(n=n), aggregate_id=agg)
        session.execute(update(table).values(created_at=utcnow() - timedelta(seconds=30)))
    relay = _relay(db, table, 10)
    with db.session(write=True) as session:
        rows = relay._claim(session, lock=True)
        marked = relay._mark(session, rows, [True, False, True, True])  # a's second publish was nacked
    assert marked == 2  # a#1 and b; a#3 waits behind the nacked a#2 so the order holds
    b = backlog(db, table)
    assert b.unsent == 2 and 29 < b.oldest_age_s < 60
    db.dispose()


def test_retention_forgets_old_sent_and_inbox_rows_only(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    metadata = MetaData()
    table, inbox = outbox_table(metadata), inbox_table(metadata)
    metadata.create_all(db.engine)
    old = utcnow() - timedelta(days=8)
    with db.session(write=True) as session:
        box = Outbox(session, table, "/flotilla/t")
        for n in range(3):
            box.add(Tick(n=n), aggregate_id="a")
        session.execute(update(table).where(table.c.id == 1).values(sent_at=old))  # old, sent
        session.execute(update(table).where(table.c.id == 2).values(sent_at=utcnow()))  # recent, sent
        assert first_delivery(session, inbox, "c", "m-old") and first_delivery(session, inbox, "c", "m-new")
        session.execute(update(inbox).where(inbox.c.message_id == "m-old").values(received_at=old))
    assert purge_history(db, outbox=table, inbox=inbox, older_than=timedelta(days=7)) == (1, 1)
    with db.session() as session:
        assert not first_delivery(session, inbox, "c", "m-new")  # still remembered
    assert backlog(db, table).unsent == 1  # the unsent row is never purged
    db.dispose()
