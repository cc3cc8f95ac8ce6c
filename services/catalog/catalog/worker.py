"""``catalog-worker``: relays catalog's outbox (and, later, consumes what catalog handles)."""

from __future__ import annotations

from catalog.bootstrap import bootstrap
from catalog.handlers import inbox, registry  # registry with the saga's handlers
from catalog.repository import outbox
from flotilla.events.cli import worker_cli
from flotilla.events.settings import EventSettings
from flotilla.events.worker import WorkerSpec
from flotilla.logs import configure_logging
from flotilla.settings import load_settings


def build() -> WorkerSpec:
    settings = load_settings(EventSettings)
    configure_logging(settings.log_level, settings.log_format, service="catalog-worker")
    catalog = bootstrap()  # mappers and ledger hooks, once for the process
    return WorkerSpec(registry=registry, db=catalog.db, settings=settings, outbox=outbox, inbox=inbox)


main = worker_cli(build)
