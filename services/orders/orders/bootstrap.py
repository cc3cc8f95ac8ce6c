"""Orders' composition root: settings, database, mappers, clients and the unit-of-work
factory are built here, once, for the API (``create_app``) and the worker alike.

Tests pass fakes by keyword (``bootstrap(catalog=FakeCatalog(), db=...)``). The result
lives on the app behind one typed accessor, :func:`orders_of`; nothing else reads
``app.extensions`` for orders' collaborators.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask, current_app

from flotilla.db import Database
from flotilla.settings import load_settings
from flotilla.unit_of_work import UnitOfWorkFactory
from orders.catalog_client import CatalogClient
from orders.config import OrdersSettings
from orders.repository import start_mappers
from orders.unit_of_work import UnitOfWork

EXTENSION = "orders"

_mapped = threading.Lock()
_mappers_started = False


def start_mappers_once() -> None:
    """Map the model classes; once per process however many times it is called."""
    global _mappers_started
    with _mapped:
        if not _mappers_started:
            start_mappers()
            _mappers_started = True


@dataclass
class Orders:
    """Everything orders' use cases are handed."""

    settings: OrdersSettings
    db: Database
    uow: UnitOfWorkFactory[UnitOfWork]
    catalog: CatalogClient | None  # the worker prices nothing and has none

    def catalog_client(self) -> CatalogClient:
        if self.catalog is None:
            raise RuntimeError("this process was bootstrapped without a catalog client")
        return self.catalog


def bootstrap(settings: OrdersSettings | None = None, *, db: Database | None = None,
              catalog: CatalogClient | None = None, with_catalog: bool = True) -> Orders:
    """``db``: the API passes the one ``init_database`` made (readiness, teardown);
    ``with_catalog=False``: the worker, which needs no client."""
    settings = settings or load_settings(OrdersSettings)
    start_mappers_once()
    db = db or Database(settings.database_url)
    if catalog is None and with_catalog:
        catalog = CatalogClient.from_settings(settings)
    return Orders(settings=settings, db=db, uow=UnitOfWork.factory(db), catalog=catalog)


def install(app: Flask, orders: Orders) -> None:
    app.extensions[EXTENSION] = orders


def orders_of(app: Flask | None = None) -> Orders:
    """The composition root's result for ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    found: Orders = target.extensions[EXTENSION]
    return found
