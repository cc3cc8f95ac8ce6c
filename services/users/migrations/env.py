"""Alembic environment for users: our tables, the shared runner."""

from flotilla.migrations import run_env
from users.repository import metadata

run_env(metadata)
