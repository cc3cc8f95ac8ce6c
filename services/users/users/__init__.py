"""Users: accounts, passwords, access and refresh tokens, and the keys that sign them.

The HTTP API's factory lives in :mod:`users.web` and is imported on first use of
``users.create_app``, so the event worker (``users.worker``) does not load the web stack it
never serves (docs/decisions/0170-preloaded-imports.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flotilla.lazy import lazy_attributes

if TYPE_CHECKING:
    from users.web import PROBLEMS, create_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

__all__ = ["MIGRATIONS", "PROBLEMS", "create_app"]
__getattr__ = lazy_attributes(__name__, "users.web", ("PROBLEMS", "create_app"))
