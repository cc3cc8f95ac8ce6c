"""The stock audit: for every product, on hand + live reservations = initial + adjustments.

Also checked: no stock below zero, and the ledger's running total equals stock on hand
(no change escaped the ledger). Served to admins at ``GET /stock/audit`` and run by
``catalog audit`` (exit status 1 when anything is off).

No ``from __future__ import annotations`` here: flask-openapi3 reads the view signature.
"""

import uuid
from dataclasses import asdict, dataclass

import click
from flask import Flask, Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict
from sqlalchemy import case, func, select

from catalog.bootstrap import catalog_of
from catalog.ledger import stock_movements
from catalog.repository import products
from catalog.reservations import RESERVED, reservation_lines, reservations
from flotilla.auth import SECURITY, require_role
from flotilla.db import Database
from flotilla.problems import ProblemModel


@dataclass(frozen=True)
class ProductAudit:
    product_id: uuid.UUID
    on_hand: int
    reserved: int
    initial_and_adjustments: int
    ledger_total: int

    @property
    def ok(self) -> bool:
        return (self.on_hand >= 0 and self.reserved >= 0 and self.ledger_total == self.on_hand
                and self.on_hand + self.reserved == self.initial_and_adjustments)


def audit(db: Database) -> list[ProductAudit]:
    m, rl, r = stock_movements.c, reservation_lines.c, reservations.c
    baseline = func.sum(case((m.kind.in_(["initial", "adjustment"]), m.delta), else_=0))
    with db.session() as session:
        on_hand = {pid: stock for pid, stock in session.execute(select(products.c.id, products.c.stock))}
        ledger = {pid: (int(base or 0), int(total or 0)) for pid, base, total in session.execute(
            select(m.product_id, baseline, func.sum(m.delta)).group_by(m.product_id))}
        held = {pid: qty for pid, qty in session.execute(
            select(rl.product_id, func.sum(rl.quantity)).join(reservations, r.order_id == rl.order_id)
            .where(r.status == RESERVED).group_by(rl.product_id))}
    return [ProductAudit(pid, stock, int(held.get(pid, 0)), *ledger.get(pid, (0, 0)))
            for pid, stock in sorted(on_hand.items())]


class ProductAuditOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "product_id": "7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11", "on_hand": 38, "reserved": 2,
        "initial_and_adjustments": 40, "ledger_total": 38, "ok": False}})

    product_id: uuid.UUID
    on_hand: int
    reserved: int
    initial_and_adjustments: int
    ledger_total: int
    ok: bool


class AuditOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"ok": True, "products": 12,
                                                             "discrepancies": []}})

    ok: bool
    products: int
    discrepancies: list[ProductAuditOut]


bp = APIBlueprint("stock_audit", __name__, url_prefix="/stock",
                  abp_tags=[Tag(name="stock", description="Stock accounting")])


@bp.get("/audit", responses={200: AuditOut, 401: ProblemModel, 403: ProblemModel}, security=SECURITY)
@require_role("admin")
def stock_audit() -> Response:
    """Audit the stock (admins).

    Checks every product's stock against its ledger and its live reservations; ``ok`` is
    false, with the products that disagree, when any does.
    """
    rows = audit(catalog_of().db)
    bad = [ProductAuditOut(**asdict(a), ok=a.ok) for a in rows if not a.ok]
    return jsonify(AuditOut(ok=not bad, products=len(rows), discrepancies=bad).model_dump(mode="json"))


def init_app(app: Flask) -> None:
    app.register_api(bp)  # type: ignore[attr-defined]

    @app.cli.command("audit")
    def audit_command() -> None:
        """Check stock on hand + live reservations = initial stock + adjustments, per product."""
        rows = audit(catalog_of().db)
        bad = [a for a in rows if not a.ok]
        for a in bad:
            click.echo(f"{a.product_id}: on hand {a.on_hand} + reserved {a.reserved} vs initial and "
                       f"adjustments {a.initial_and_adjustments} (ledger total {a.ledger_total})")
        click.echo(f"catalog audit: {len(rows)} products, {len(bad)} discrepancies")
        if bad:
            raise SystemExit(1)
