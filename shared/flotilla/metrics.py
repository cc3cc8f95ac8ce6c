"""Prometheus metrics: RED per endpoint, served at ``/metrics`` by prometheus-flask-exporter.

Under gunicorn each worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics``
aggregates them (the exporter switches to multiprocess mode when that variable is set). Paths
are labelled by URL rule, never by raw id. The kit's service-client metrics (breakers, retry
budget) join every app's registry.

The exporter's ``/metrics`` endpoint stays; its per-request hooks do not
(docs/decisions/0171-request-hooks.md): they resolved and validated the label values of two
metrics on every request, 9 % of an item read. :class:`RequestMetrics` defines the same
metrics (names, labels, buckets) and keeps the children of each (method, rule, status) it has
seen, so a request costs a dictionary lookup and the three sample writes.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.routing import Rule

from flotilla.http import metrics as client_metrics

#: Not counted: the scrape itself and the probes.
EXCLUDED_PATHS = re.compile(r"^/metrics$|^/health/")
REQUEST_METRICS = "flotilla_request_metrics"
#: Children kept per app; past it (a flood of odd methods) labels are resolved per request.
_MAX_CHILDREN = 4096


class RequestMetrics:
    """``flask_http_request_duration_seconds{method,url_rule,status,service}``,
    ``flask_http_request_total{method,status,service}`` and
    ``flask_http_request_exceptions_total{method,status,service}``, as the exporter's
    defaults named and labelled them (the Prometheus rules and dashboards use these)."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.duration = Histogram("flask_http_request_duration_seconds",
                                  "Flask HTTP request duration in seconds",
                                  ("method", "url_rule", "status", "service"), registry=registry)
        self.total = Counter("flask_http_request_total", "Total number of HTTP requests",
                             ("method", "status", "service"), registry=registry)
        self.exceptions = Counter("flask_http_request_exceptions_total",
                                  "Total number of HTTP requests which resulted in an exception",
                                  ("method", "status", "service"), registry=registry)
        self._children: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}

    def observe(self, method: str, rule: str | None, status: int, seconds: float) -> None:
        """One answered request; ``rule`` is the matched URL rule's text (``None``: none
        matched, labelled ``"None"`` as the exporter did)."""
        key = (method, rule, status)
        children = self._children.get(key)
        if children is None:
            children = (self.duration.labels(method, str(rule), status, self.service),
                        self.total.labels(method, status, self.service))
            if len(self._children) < _MAX_CHILDREN:
                self._children[key] = children
        children[0].observe(max(seconds, 0.0))
        children[1].inc()

    def failed(self, method: str, rule: str | None, seconds: float) -> None:
        """A request whose exception escaped every handler: counted as a 500 (the exporter's
        rule), once in the exception counter, and observed when no answer was observed."""
        self.exceptions.labels(method, 500, self.service).inc()
        self.observe(method, rule, 500, seconds)

    def install_hooks(self, app: Flask) -> None:
        """Observe every request of ``app`` with hooks of its own (an app not built by
        ``create_service_app``; that one observes from the kit's single request hook)."""

        def start() -> None:
            request.environ["flotilla.metrics_started"] = time.perf_counter()

        def after(response: Response) -> Response:
            started = request.environ.get("flotilla.metrics_started")
            if started is not None and not EXCLUDED_PATHS.match(request.path):
                request.environ["flotilla.metrics_observed"] = True
                self.observe(request.method, rule_of(request.url_rule), response.status_code,
                             time.perf_counter() - started)
            return response

        def teardown(exc: BaseException | None) -> None:
            started = request.environ.get("flotilla.metrics_started")
            if exc is None or started is None or EXCLUDED_PATHS.match(request.path):
                return
            if request.environ.get("flotilla.metrics_observed"):
                self.exceptions.labels(request.method, 500, self.service).inc()
            else:
                self.failed(request.method, rule_of(request.url_rule), time.perf_counter() - started)

        app.before_request(start)
        app.after_request(after)
        app.teardown_request(teardown)


def rule_of(url_rule: Rule | None) -> str | None:
    return url_rule.rule if url_rule is not None else None


def init_app(app: Flask, service: str, *, hooks: bool = True) -> PrometheusMetrics:
    """``/metrics`` and the request metrics of ``app``; ``hooks=False`` when the caller
    observes requests itself (:func:`request_metrics` of the app)."""
    # A registry per app keeps several apps in one test process from colliding.
    metrics = PrometheusMetrics(
        app,
        registry=CollectorRegistry(),
        export_defaults=False,
        group_by="url_rule",
        default_labels={"service": service},
        excluded_paths=["^/metrics$", "^/health/"],
    )
    metrics.info("flask_exporter_info", "Information about the Prometheus Flask exporter",
                 version=metrics.version)
    recorder = RequestMetrics(metrics.registry, service)
    if hooks:
        recorder.install_hooks(app)
    for collector in client_metrics.COLLECTORS:
        metrics.registry.register(collector)
    app.extensions["flotilla_metrics"] = metrics
    app.extensions[REQUEST_METRICS] = recorder
    return metrics


def request_metrics(app: Flask) -> RequestMetrics:
    found: RequestMetrics = app.extensions[REQUEST_METRICS]
    return found


def registry_of(app: Flask) -> CollectorRegistry:
    """The app's metrics registry (where a component registers its own collectors)."""
    metrics: PrometheusMetrics = app.extensions["flotilla_metrics"]
    return metrics.registry
