"""CLI commands every service registers."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from flotilla import migrations
from flotilla.app import current_database


def migrate_command(script_location: Path) -> click.Command:
    """``<service> migrate [REVISION]``: bring the database to a revision (default: head)."""

    @click.command("migrate")
    @click.argument("revision", default="head")
    def migrate(revision: str) -> None:
        """Apply this service's Alembic migrations."""
        url = current_database().url
        migrations.upgrade(script_location, url, revision)
        click.echo(f"{current_app.name}: database at {revision}")

    return migrate
