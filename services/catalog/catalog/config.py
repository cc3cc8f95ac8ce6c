"""Catalog's settings, from the environment."""

from __future__ import annotations

from pydantic import Field

from flotilla.auth import AuthSettings
from flotilla.settings import sqlite_url


class CatalogSettings(AuthSettings):
    database_url: str = Field(default_factory=lambda: sqlite_url("catalog"),
                              validation_alias="CATALOG_DATABASE_URL")
