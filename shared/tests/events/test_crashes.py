"""At-least-once delivery, exactly-once effect: crashes and a broker restart, on a real RabbitMQ.

Each test prints its figures (run with -s to see them).
"""

from __future__ import annotations

import signal
import threading
import time

from flotilla.testing import wait_for


def test_consumer_killed_after_commit_before_ack_is_redelivered_and_applied_once(make_ledger, tmp_path):
    ledger = make_ledger()
    marker = tmp_path / "killed-after-commit"
    doomed = ledger.start_worker(LEDGER_KILL_AFTER_COMMIT=str(marker)).wait_ready()
    ledger.produce(1)
    assert doomed.proc.wait(timeout=20) == -signal.SIGKILL
    assert marker.exists() and ledger.applied() == (1, 1)  # committed, never acked

    worker = ledger.start_worker().wait_ready()
    # The kill may also beat the relay's "sent" mark, so the restarted relay can publish the
    # same message id once more: one or two duplicates, never a second application.
    wait_for(lambda: worker.metric("flotilla_events_consumed_total", outcome="duplicate") >= 1, timeout=20,
             what="the redelivery")
    wait_for(lambda: ledger.unsent() == 0, timeout=20, what="the outbox to drain")
    duplicates = worker.metric("flotilla_events_consumed_total", outcome="duplicate")
    assert ledger.applied() == (1, 1)
    assert worker.metric("flotilla_events_consumed_total", outcome="applied") == 0
    assert duplicates in (1, 2)
    print(f"\nkill after commit: applied before kill=1, redelivered/republished={duplicates:.0f} "
          f"(dropped by the inbox), applied rows now={ledger.applied()[0]}")


def test_worker_killed_between_commit_and_publish_publishes_after_restart(make_ledger, tmp_path):
    ledger = make_ledger()
    ledger.produce(3)  # committed while no worker runs
    marker = tmp_path / "killed-before-publish"
    doomed = ledger.start_worker(LEDGER_KILL_BEFORE_PUBLISH=str(marker))
    assert doomed.proc.wait(timeout=30) == -signal.SIGKILL
    assert marker.exists() and ledger.unsent() == 3 and ledger.applied() == (0, 0)

    ledger.start_worker().wait_ready()
    wait_for(lambda: ledger.applied() == (3, 3), timeout=20, what="the events published and applied")
    assert ledger.unsent() == 0
    print("\nkill before publish: committed=3, unsent after kill=3, applied after restart=3, unsent now=0")


def test_broker_restart_during_a_burst_loses_nothing_and_applies_nothing_twice(make_ledger, postgres_server):
    total, per_tx = 500, 10
    ledger = make_ledger(postgres_server.create_database())
    workers = [ledger.start_worker(EVENTS_RELAY_BATCH="50", EVENTS_PREFETCH="20").wait_ready()
               for _ in range(2)]  # two relays share the outbox (SKIP LOCKED), two consumers the queue
    committed = 0

    def produce() -> None:
        nonlocal committed
        for start in range(0, total, per_tx):
            ledger.produce(per_tx, aggregates=25, start=start)
            committed += per_tx
            time.sleep(0.02)

    producer = threading.Thread(target=produce)
    started = time.monotonic()
    producer.start()
    wait_for(lambda: committed >= total // 4, timeout=30, what="a quarter of the burst")
    before = ledger.applied()[0]
    restart_started = time.monotonic()
    ledger.broker.restart()
    restart_s = time.monotonic() - restart_started
    producer.join(timeout=60)
    wait_for(lambda: ledger.applied()[1] == total, timeout=90, interval=0.2, what="every event applied")
    elapsed = time.monotonic() - started
    rows, distinct = ledger.applied()
    duplicates = sum(w.metric("flotilla_events_consumed_total", outcome="duplicate") for w in workers)
    published = sum(w.metric("flotilla_events_published_total") for w in workers)
    print(f"\nbroker restart during burst: committed={committed} consumed={distinct} lost={total - distinct} "
          f"applied twice={rows - distinct}; applied before restart={before}, restart took {restart_s:.1f}s, "
          f"confirmed publishes={published:.0f}, redeliveries dropped by inbox={duplicates:.0f}, "
          f"all applied {elapsed:.1f}s after the burst began")
    assert committed == total and distinct == total and rows == total
    assert ledger.unsent() == 0


def test_sigterm_finishes_the_message_in_hand_with_heartbeats_alive(make_ledger, tmp_path):
    ledger = make_ledger()
    in_hand = tmp_path / "handling"
    worker = ledger.start_worker(LEDGER_HANDLER_SECONDS="3", LEDGER_HANDLING_MARKER=str(in_hand),
                                 EVENTS_HEARTBEAT_SECONDS="1").wait_ready()
    ledger.produce(1)
    wait_for(in_hand.exists, timeout=10, what="the handler to start")
    started = time.monotonic()
    assert worker.stop(signal.SIGTERM) == 0
    took = time.monotonic() - started
    assert ledger.applied() == (1, 1)
    assert "reconnecting" not in worker.logs()  # 3 s handler, 1 s heartbeats: the connection held

    again = ledger.start_worker().wait_ready()
    time.sleep(1)  # nothing should arrive: the message was acked before the exit
    assert again.metric("flotilla_events_consumed_total", outcome="duplicate") == 0
    print(f"\nSIGTERM mid-handler: handler 3s with 1s heartbeats, exited 0 after {took:.1f}s, "
          f"applied={ledger.applied()[0]}, redelivered after restart=0")
