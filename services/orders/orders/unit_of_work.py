"""The unit of work: one transaction, the orders repository and the outbox that commits with it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from flotilla.events import Outbox
from flotilla.unit_of_work import UnitOfWork as BaseUnitOfWork
from orders.repository import OrderRepository, outbox

SOURCE = "/flotilla/orders"


class UnitOfWork(BaseUnitOfWork):
    """Orders and the events that announce them commit together (``uow.outbox``)."""

    orders: OrderRepository
    outbox: Outbox

    def _bind(self, session: Session) -> None:
        super()._bind(session)
        self.orders = OrderRepository(session)
        self.outbox = Outbox(session, outbox, SOURCE)
