"""Catalog: products and their stock.

The HTTP API's factory lives in :mod:`catalog.web` and is imported on first use of
``catalog.create_app``, so the event worker (``catalog.worker``) does not load the web stack
it never serves (docs/decisions/0170-preloaded-imports.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flotilla.lazy import lazy_attributes

if TYPE_CHECKING:
    from catalog.web import PROBLEMS, create_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

__all__ = ["MIGRATIONS", "PROBLEMS", "create_app"]
__getattr__ = lazy_attributes(__name__, "catalog.web", ("PROBLEMS", "create_app"))
