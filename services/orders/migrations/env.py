"""Alembic environment for orders: our tables, the shared runner."""

from flotilla.migrations import run_env
from orders.repository import metadata

run_env(metadata)
