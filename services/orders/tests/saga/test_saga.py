"""The order saga end to end: real workers, real RabbitMQ, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flotilla.testing import wait_for

pytestmark = pytest.mark.slow  # real RabbitMQ, both workers and APIs

N = 20


def test_happy_path_every_order_placed_is_confirmed(shared_platform):
    platform = shared_platform
    a, b = platform.product(stock=100), platform.product(stock=100)
    _, headers = platform.customer()
    started = time.monotonic()
    placed = [platform.place(headers, [(a, 2), (b, 1)]) for _ in range(N)]
    assert [r.status_code for r in placed] == [202] * N
    statuses = platform.wait_none_pending([r.json()["id"] for r in placed])
    elapsed = time.monotonic() - started
    print(f"\nhappy path: placed {N}, confirmed {statuses.get('confirmed', 0)}, "
          f"stock {platform.stock(a)}/{platform.stock(b)}, {elapsed:.2f}s, "
          f"audit discrepancies {platform.audit_discrepancies()}")
    assert statuses == {"confirmed": N}
    assert (platform.stock(a), platform.stock(b)) == (100 - 2 * N, 100 - N)
    assert platform.audit_discrepancies() == 0
    # The owner cancels one confirmed order: its stock comes back, a second cancel is 409.
    assert platform.cancel(headers, placed[0].json()["id"]).json()["status"] == "cancelled"
    wait_for(lambda: platform.stock(a) == 100 - 2 * (N - 1), timeout=20, what="stock released")
    assert platform.stock(b) == 100 - (N - 1)
    assert platform.cancel(headers, placed[0].json()["id"]).status_code == 409
    assert platform.audit_discrepancies() == 0


def test_not_enough_stock_rejects_and_leaves_stock_unchanged(shared_platform):
    platform = shared_platform
    plenty, scarce = platform.product(stock=10), platform.product(stock=1)
    _, headers = platform.customer()
    order = platform.place(headers, [(plenty, 3), (scarce, 2)]).json()
    platform.wait_none_pending([order["id"]])
    status, reason = platform.status_of(order["id"])
    print(f"\nnot enough stock: status {status}, reason {reason!r}, "
          f"stock {platform.stock(plenty)}/{platform.stock(scarce)}")
    assert status == "rejected"
    assert scarce in reason and "2 requested, 1 available" in reason
    assert (platform.stock(plenty), platform.stock(scarce)) == (10, 1)
    assert platform.audit_discrepancies() == 0


def test_twenty_clients_racing_for_five_units_never_oversell(shared_platform):
    platform = shared_platform
    pid = platform.product(stock=5)
    clients = [platform.customer()[1] for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda h: platform.place(h, [(pid, 1)]), clients))
    assert [r.status_code for r in responses] == [202] * 20
    statuses = platform.wait_none_pending([r.json()["id"] for r in responses])
    confirmed = statuses.get("confirmed", 0)
    oversold = max(0, confirmed - 5)
    print(f"\n20 clients for 5 units: confirmed {confirmed}, rejected {statuses.get('rejected', 0)}, "
          f"oversold {oversold}, stock left {platform.stock(pid)}, "
          f"audit discrepancies {platform.audit_discrepancies()}")
    assert statuses == {"confirmed": 5, "rejected": 15}
    assert oversold == 0 and platform.stock(pid) == 0
    assert platform.audit_discrepancies() == 0
