"""``users-worker``: relays users' outbox (``user.registered``, ``user.deleted``)."""

from __future__ import annotations

from flotilla.events.cli import worker_cli
from flotilla.events.settings import EventSettings
from flotilla.events.worker import WorkerSpec
from flotilla.logs import configure_logging
from flotilla.settings import load_settings
from users.bootstrap import bootstrap
from users.events import registry
from users.repository import outbox


def build() -> WorkerSpec:
    settings = load_settings(EventSettings)
    configure_logging(settings.log_level, settings.log_format, service="users-worker")
    users = bootstrap()
    return WorkerSpec(registry=registry, db=users.db, settings=settings, outbox=outbox)


main = worker_cli(build)
