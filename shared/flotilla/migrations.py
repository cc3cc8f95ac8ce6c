"""Alembic, driven from code: each service keeps its own history in ``migrations/``.

Alembic is imported when a migration runs, not with the CLI that offers it: every API
process registers the ``migrate`` command but never runs it (about 11 MiB each,
docs/decisions/0170-preloaded-imports.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import MetaData

from flotilla.db import normalise_url


def alembic_config(script_location: Path, url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(script_location, url), revision)


def downgrade(script_location: Path, url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(script_location, url), revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py`` (online mode only)."""
    from alembic import context
    from sqlalchemy import pool

    from flotilla.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url given to alembic")
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=engine.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
