"""Catalog's composition root: settings, database, mappers, the stock ledger's hooks and
the unit-of-work factory, built once for the API (``create_app``) and the worker alike.

Tests pass a ``db`` by keyword. The result lives on the app behind one typed accessor,
:func:`catalog_of`; nothing else reads ``app.extensions`` for catalog's collaborators.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask, current_app

from catalog import ledger
from catalog.config import CatalogSettings
from catalog.repository import UnitOfWork, start_mappers
from flotilla.db import Database
from flotilla.settings import load_settings
from flotilla.unit_of_work import UnitOfWorkFactory

EXTENSION = "catalog"

_lock = threading.Lock()
_started = False


def start_orm_once() -> None:
    """Map the model and hook the ledger onto stock changes: once per process."""
    global _started
    with _lock:
        if not _started:
            start_mappers()
            ledger.install()  # every stock change leaves a ledger row
            _started = True


@dataclass
class Catalog:
    """Everything catalog's use cases are handed."""

    settings: CatalogSettings
    db: Database
    uow: UnitOfWorkFactory[UnitOfWork]


def bootstrap(settings: CatalogSettings | None = None, *, db: Database | None = None) -> Catalog:
    """``db``: the API passes the one ``init_database`` made (readiness, teardown)."""
    settings = settings or load_settings(CatalogSettings)
    start_orm_once()
    db = db or Database(settings.database_url)
    return Catalog(settings=settings, db=db, uow=UnitOfWork.factory(db))


def install(app: Flask, catalog: Catalog) -> None:
    app.extensions[EXTENSION] = catalog


def catalog_of(app: Flask | None = None) -> Catalog:
    """The composition root's result for ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    found: Catalog = target.extensions[EXTENSION]
    return found
