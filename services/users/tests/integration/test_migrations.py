"""The migrations build exactly the tables the code maps, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from flotilla import migrations
from flotilla.db import make_engine
from users import MIGRATIONS
from users.repository import metadata


def test_head_matches_the_mapped_tables_and_downgrades_cleanly(database_url):
    migrations.upgrade(MIGRATIONS, database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diffs == []
        migrations.downgrade(MIGRATIONS, database_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
