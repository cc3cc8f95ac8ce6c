"""``users migrate``, ``rotate-keys``, ``create-admin`` and ``purge`` (also via ``flask --app users``)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from flotilla.cli import migrate_command
from users import housekeeping, service
from users.bootstrap import users_of
from users.model import normalise_email


def init_app(app: Flask, migrations: Path) -> None:
    app.cli.add_command(migrate_command(migrations))

    @app.cli.command("rotate-keys")
    def rotate_keys_command() -> None:
        """Publish a new signing key; the previous one keeps verifying, older ones are retired."""
        kid = service.rotate_keys(users_of().uow)
        click.echo(f"users: signing with key {kid}")

    @app.cli.command("purge")
    def purge_command() -> None:
        """Delete long-expired refresh tokens and ended login-throttle windows."""
        users = users_of()
        done = housekeeping.purge(users.uow, users.settings.login_window)
        click.echo(f"users: purged {done.refresh_tokens} refresh tokens, "
                   f"{done.login_counters} login counters")

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--name", default="Administrator", show_default=True)
    @click.password_option(envvar="FLOTILLA_ADMIN_PASSWORD",
                           help="Prompted for (twice) when not given; ignored for an existing account.")
    def create_admin_command(email: str, name: str, password: str) -> None:
        """Create an admin account, or give an existing account the admin role."""
        try:
            normalise_email(email)
        except ValueError:
            raise click.BadParameter("not an email address", param_hint="--email") from None
        if not 10 <= len(password) <= 128:
            raise click.BadParameter("must be 10 to 128 characters", param_hint="--password")
        users = users_of()
        user, created = service.ensure_admin(users.uow, users.passwords, email, password, name)
        click.echo(f"users: {'created' if created else 'promoted'} admin {user.email} ({user.id})")


def main() -> None:
    FlaskGroup(create_app=lambda: __import__("users").create_app(for_cli=True))()
