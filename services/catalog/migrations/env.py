"""Alembic environment for catalog: our tables, the shared runner."""

from catalog.repository import metadata
from flotilla.migrations import run_env

run_env(metadata)
