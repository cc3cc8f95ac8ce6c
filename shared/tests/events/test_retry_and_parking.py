"""Failing handlers and unreadable messages, against a real RabbitMQ (figures printed; -s shows them)."""

from __future__ import annotations

import json

import pika

from flotilla.events import ops
from flotilla.events.topology import EXCHANGE
from flotilla.testing import wait_for


def test_failing_handler_is_parked_after_the_attempts_and_replay_delivers_it(make_ledger, tmp_path):
    ledger = make_ledger()
    flag = tmp_path / "broken"
    flag.write_text("on")
    worker = ledger.start_worker(LEDGER_BROKEN_FLAG=str(flag), EVENTS_MAX_ATTEMPTS="3").wait_ready()
    ledger.produce(1)

    parked = wait_for(lambda: ops.list_parked(ledger.broker.url, ledger.service), timeout=20,
                      what="the message in the parking queue")
    retried = worker.metric("flotilla_events_retried_total")
    assert len(parked) == 1
    assert parked[0].attempts == 3 and "handler broken" in parked[0].last_error
    assert retried == 2 and ledger.applied() == (0, 0)
    listing = ledger.cli("dlq", "list")
    assert parked[0].message_id in listing and "attempts=3" in listing

    flag.unlink()  # the handler is fixed
    assert "replayed 1 message" in ledger.cli("dlq", "replay", "--id", str(parked[0].message_id))
    wait_for(lambda: ledger.applied() == (1, 1), timeout=15, what="the replayed message applied")
    assert ops.list_parked(ledger.broker.url, ledger.service) == []
    print(f"\nfailing handler: attempts={parked[0].attempts} retried={retried:.0f} parked=1 "
          f"error={parked[0].last_error!r}; after replay applied={ledger.applied()[0]}")


def test_unreadable_message_is_parked_at_once_and_the_queue_keeps_draining(make_ledger):
    ledger = make_ledger()
    worker = ledger.start_worker().wait_ready()
    routing_key = ledger.model.type_name()
    conn = pika.BlockingConnection(pika.URLParameters(ledger.broker.url))
    channel = conn.channel()
    channel.confirm_delivery()
    bad_envelope = json.dumps({"specversion": "1.0", "id": "bad-data", "source": "/x", "type": routing_key,
                               "time": "2026-11-25T00:00:00Z", "data": {"n": "not a number"}})
    for message_id, body in (("garbage", b"\x00not json at all"), ("bad-data", bad_envelope.encode())):
        channel.basic_publish(EXCHANGE, routing_key, body, pika.BasicProperties(message_id=message_id))
    conn.close()
    ledger.produce(50)

    wait_for(lambda: ledger.applied() == (50, 50), timeout=20, what="the good messages applied")
    parked = wait_for(lambda: (p := ops.list_parked(ledger.broker.url, ledger.service)) and len(p) == 2 and p,
                      timeout=10, what="two parked messages")
    by_id = {p.message_id: p for p in parked}
    assert by_id["garbage"].attempts == 1 and "not a CloudEvents envelope" in by_id["garbage"].last_error
    assert "bad" in by_id["bad-data"].last_error and "n:" in by_id["bad-data"].last_error
    assert worker.metric("flotilla_events_retried_total") == 0
    assert worker.metric("flotilla_events_dead_lettered_total", reason="unreadable") == 2
    assert "purged 2" in ledger.cli("dlq", "purge", "--yes")
    print(f"\nunreadable: parked=2 at attempt 1, retried=0, good messages applied={ledger.applied()[0]}/50")
