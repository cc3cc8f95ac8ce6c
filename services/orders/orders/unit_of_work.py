"""The unit of work: one transaction, the orders repository and the outbox that commits with it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType

from sqlalchemy.orm import Session

from flotilla.db import Database
from flotilla.events import Outbox
from orders.repository import OrderRepository, outbox

SOURCE = "/flotilla/orders"


class UnitOfWork:
    """``with UnitOfWork(db, write=True) as uow:`` commits on success, rolls back on error.

    Events go to ``uow.outbox`` and commit with the orders they announce. The consumer
    hands its own session in (``UnitOfWork.of(session)``) so a handler joins its transaction.
    """

    orders: OrderRepository
    outbox: Outbox

    def __init__(self, db: Database | None, *, write: bool = False) -> None:
        self._db = db
        self._write = write
        self._cm: AbstractContextManager[Session] | None = None

    @classmethod
    def of(cls, session: Session) -> UnitOfWork:
        uow = cls(None)
        uow._bind(session)
        return uow

    def _bind(self, session: Session) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.outbox = Outbox(session, outbox, SOURCE)

    def __enter__(self) -> UnitOfWork:
        assert self._db is not None
        self._cm = self._db.session(write=self._write)
        self._bind(self._cm.__enter__())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._cm is not None
        self._cm.__exit__(exc_type, exc, tb)
