"""A worker's Prometheus metrics: its own registry, served by its own HTTP server."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from flotilla.events.outbox import Backlog

log = logging.getLogger(__name__)


class BacklogCollector(Collector):
    """Outbox backlog, measured from the database at scrape time."""

    def __init__(self, service: str, measure: Callable[[], Backlog]) -> None:
        self.service = service
        self.measure = measure

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = self.measure()
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("outbox backlog unavailable: %r", exc)
            return
        size = GaugeMetricFamily("flotilla_outbox_backlog", "Outbox rows not yet published",
                                 labels=["service"])
        size.add_metric([self.service], backlog.unsent)
        age = GaugeMetricFamily("flotilla_outbox_oldest_unsent_age_seconds",
                                "Age of the oldest unpublished outbox row", labels=["service"])
        age.add_metric([self.service], backlog.oldest_age_s)
        yield size
        yield age


class WorkerMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        labels = {"service": service}

        def counter(name: str, doc: str, *extra: str) -> Counter:
            return Counter(name, doc, ["service", *extra], registry=self.registry)

        self._consumed = counter("flotilla_events_consumed_total",
                                 "Messages consumed, by outcome (applied, duplicate)", "outcome")
        self.retried = counter("flotilla_events_retried_total",
                               "Messages sent to a delay queue after a failure").labels(**labels)
        self._dead = counter("flotilla_events_dead_lettered_total",
                             "Messages parked in the dead-letter queue, by reason", "reason")
        self.published = counter("flotilla_events_published_total",
                                 "Outbox rows published and confirmed").labels(**labels)
        for outcome in ("applied", "duplicate"):  # every series exists from the start, at 0
            self._consumed.labels(service=service, outcome=outcome)
        for reason in ("attempts", "unreadable"):
            self._dead.labels(service=service, reason=reason)

    def consumed(self, outcome: str) -> None:
        self._consumed.labels(service=self.service, outcome=outcome).inc()

    def dead_lettered(self, reason: str) -> None:
        self._dead.labels(service=self.service, reason=reason).inc()

    def watch_backlog(self, measure: Callable[[], Backlog]) -> None:
        self.registry.register(BacklogCollector(self.service, measure))
