"""``catalog migrate`` and ``catalog seed`` (also as ``flask --app catalog ...``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from catalog.bootstrap import catalog_of
from catalog.model import Product
from flotilla.cli import migrate_command

_SEED_NAMESPACE = uuid.UUID("6f1c1f4e-2a7b-4c55-9c1e-5b8f3d0a7e10")

DEMO_PRODUCTS = [
    ("Espresso beans, 1 kg", "Dark roast, notes of cocoa and cherry.", 2400, 120),
    ("Pour-over kettle", "Gooseneck kettle, 1 litre, stainless steel.", 4900, 35),
    ("Ceramic dripper", "Conical dripper for paper filters, size 02.", 1800, 60),
    ("Paper filters, 100", "Unbleached cone filters, size 02.", 600, 400),
    ("Hand grinder", "Conical steel burrs, 40 g hopper.", 8900, 20),
    ("Milk jug, 350 ml", "For steaming and latte art.", 1500, 80),
    ("Travel mug", "Double-walled, 400 ml, leak-proof lid.", 2200, 150),
    ("Digital scale", "0.1 g resolution with a built-in timer.", 3500, 45),
    ("Cold brew bottle", "1 litre glass bottle with a mesh filter.", 2900, 30),
    ("Tasting cups, set of 4", "Porcelain cupping bowls.", 3200, 25),
    ("Green tea, 250 g", "Sencha, first flush.", 1400, 90),
    ("Cleaning tablets", "For espresso machines, 60 tablets.", 1100, 200),
]


def seed(app: Flask) -> int:
    """Insert the demo products that are not there yet; returns how many were added."""
    added = 0
    with app.app_context(), catalog_of(app).uow(write=True) as uow:
        for name, description, price, stock in DEMO_PRODUCTS:
            pid = uuid.uuid5(_SEED_NAMESPACE, name)
            if not uow.products.exists(pid):
                uow.products.add(Product(id=pid, name=name, description=description,
                                         price_cents=price, currency="EUR", stock=stock))
                added += 1
    return added


def init_app(app: Flask, migrations: Path) -> None:
    app.cli.add_command(migrate_command(migrations))

    @app.cli.command("seed")
    def seed_command() -> None:
        """Load the demo products (safe to run again)."""
        click.echo(f"catalog: seeded {seed(app)} demo products")


def main() -> None:
    """The `catalog` command: Flask's CLI bound to this service."""
    FlaskGroup(create_app=lambda: __import__("catalog").create_app())()


if __name__ == "__main__":
    main()
