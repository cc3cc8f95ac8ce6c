"""The service client's breaker and retry-budget metrics, against a real loopback upstream,
read back from an app's /metrics as Prometheus would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from flotilla import metrics
from flotilla.discovery.static import StaticDiscovery
from flotilla.http import BreakerRegistry, CallPolicy, CircuitOpen, RetryBudget, ServiceClient
from flotilla.testing import metric_value
from flotilla.testing.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream("one").start()
    yield server
    server.stop()


def scrape() -> str:
    app = Flask("scraper")
    metrics.init_app(app, "scraper")
    return app.test_client().get("/metrics").get_data(as_text=True)


def breaker(text: str, instance: str, state: str) -> float:
    return metric_value(text, "flotilla_circuit_breaker_state", upstream_url=instance, state=state)


def transitions(text: str, instance: str, to: str) -> float:
    return metric_value(text, "flotilla_circuit_breaker_transitions_total", upstream_url=instance, to=to)


def test_breaker_state_and_transitions_per_instance(upstream: FakeUpstream) -> None:
    breakers = BreakerRegistry(failure_threshold=2, reset_timeout=0.3)
    client = ServiceClient("metrics-svc", StaticDiscovery({"metrics-svc": [upstream.url]}),
                           breakers=breakers, budget=RetryBudget(ratio=0))
    url = upstream.url
    client.get_json("/echo/ok")
    assert (breaker(scrape(), url, "closed"), breaker(scrape(), url, "open")) == (1, 0)
    for _ in range(2):
        client.request("GET", "/fail")
    opened = scrape()
    assert (breaker(opened, url, "open"), breaker(opened, url, "closed")) == (1, 0)
    assert transitions(opened, url, "open") == 1
    with pytest.raises(CircuitOpen):
        client.request("GET", "/fail")
    time.sleep(0.35)  # the breaker's reset timeout is what is under test
    client.get_json("/echo/probe")  # the half-open probe succeeds
    closed = scrape()
    assert breaker(closed, url, "closed") == 1 and breaker(closed, url, "open") == 0
    assert transitions(closed, url, "half-open") == 1 and transitions(closed, url, "closed") == 1


def test_retries_spent_and_refused_by_the_budget(upstream: FakeUpstream) -> None:
    client = ServiceClient("budget-svc", StaticDiscovery({"budget-svc": [upstream.url]}),
                           policy=CallPolicy(attempts=2, backoff_base=0.001, backoff_cap=0.001),
                           breakers=BreakerRegistry(failure_threshold=10**6),
                           budget=RetryBudget(ratio=0.5, cap=1))
    for _ in range(4):
        assert client.request("GET", "/fail", params={"status": "503"}).status_code == 503
    text = scrape()
    spent = metric_value(text, "flotilla_retry_budget_spent_total", upstream="budget-svc")
    refused = metric_value(text, "flotilla_retry_budget_exhausted_total", upstream="budget-svc")
    assert (spent, refused) == (2, 2)  # a retry every second call: half a token per call
    assert upstream.count("GET", "/fail") == 4 + 2
