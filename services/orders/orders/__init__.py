"""Orders: customers' orders and the stock-reservation saga with catalog.

The HTTP API's factory lives in :mod:`orders.web` and is imported on first use of
``orders.create_app``, so the event worker (``orders.worker``) does not load the web stack it
never serves (docs/decisions/0170-preloaded-imports.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flotilla.lazy import lazy_attributes

if TYPE_CHECKING:
    from orders.web import PROBLEMS, create_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

__all__ = ["MIGRATIONS", "PROBLEMS", "create_app"]
__getattr__ = lazy_attributes(__name__, "orders.web", ("PROBLEMS", "create_app"))
