"""``orders-worker``: consumes catalog's answers and ``user.deleted``, relays the outbox,
and sweeps orders left pending too long. ``orders-worker dlq ...`` / ``outbox`` operate it."""

from __future__ import annotations

import sys
import threading

import click
from prometheus_client import Counter

from flotilla.events.cli import worker_cli
from flotilla.events.settings import EventSettings
from flotilla.events.worker import Worker, WorkerSpec
from flotilla.logs import configure_logging
from flotilla.settings import load_settings
from orders import metrics
from orders.bootstrap import bootstrap
from orders.config import SweeperSettings
from orders.repository import inbox, outbox
from orders.saga import registry
from orders.sweeper import Sweeper


def build() -> WorkerSpec:
    settings = load_settings(EventSettings)
    configure_logging(settings.log_level, settings.log_format, service="orders-worker")
    orders = bootstrap(load_settings(SweeperSettings), with_catalog=False)
    return WorkerSpec(registry=registry, db=orders.db, settings=settings, outbox=outbox, inbox=inbox)


def run_worker() -> int:
    """The kit's worker (consumer + relay) plus the sweeper thread, under one stop flag."""
    spec = build()
    sweep = load_settings(SweeperSettings)
    worker = Worker(spec)
    metrics.register_into(worker.metrics.registry)
    swept = Counter("flotilla_orders_timed_out_total", "Pending orders cancelled by the sweeper",
                    ["service"], registry=worker.metrics.registry).labels(service="orders")
    sweeper = Sweeper(spec.db, sweep.pending_timeout, sweep.sweep_interval, sweep.sweep_batch,
                      on_cancel=swept.inc, idempotency_window_s=sweep.idempotency_window)
    thread = threading.Thread(target=sweeper.run, args=(worker.stop,), name="sweeper", daemon=True)
    thread.start()
    status = worker.run()
    thread.join(timeout=30)
    return status


_operations = worker_cli(build)


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """The orders worker (consumer, outbox relay, pending-timeout sweeper) and its operations."""
    if ctx.invoked_subcommand is None:
        sys.exit(run_worker())


@main.command()
def run() -> None:
    """Consume, relay and sweep until SIGTERM."""
    sys.exit(run_worker())


for _name in ("dlq", "outbox"):
    main.add_command(_operations.commands[_name])
