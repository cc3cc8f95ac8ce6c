"""Prometheus metrics through prometheus-flask-exporter.

Under gunicorn each worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR``
and ``/metrics`` aggregates them (the exporter switches to multiprocess mode
when that variable is set). Paths are labelled by URL rule, never by raw id.
The kit's service-client metrics (breakers, retry budget) join every app's registry.
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics

from flotilla.http import metrics as client_metrics


def init_app(app: Flask, service: str) -> PrometheusMetrics:
    # A registry per app keeps several apps in one test process from colliding.
    metrics = PrometheusMetrics(
        app,
        registry=CollectorRegistry(),
        group_by="url_rule",
        default_labels={"service": service},
        excluded_paths=["^/metrics$", "^/health/"],
    )
    for collector in client_metrics.COLLECTORS:
        metrics.registry.register(collector)
    app.extensions["flotilla_metrics"] = metrics
    return metrics


def registry_of(app: Flask) -> CollectorRegistry:
    """The app's metrics registry (where a component registers its own collectors)."""
    metrics: PrometheusMetrics = app.extensions["flotilla_metrics"]
    return metrics.registry
