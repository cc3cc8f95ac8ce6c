"""``orders migrate`` (also as ``flask --app orders ...``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.cli import FlaskGroup

from flotilla.cli import migrate_command


def init_app(app: Flask, migrations: Path) -> None:
    app.cli.add_command(migrate_command(migrations))


def main() -> None:
    """The `orders` command: Flask's CLI bound to this service."""
    FlaskGroup(create_app=lambda: __import__("orders").create_app())()


if __name__ == "__main__":
    main()
