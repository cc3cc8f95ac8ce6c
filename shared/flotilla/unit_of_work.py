"""The unit of work every service's own one builds on: one transaction, the
repositories bound to it, committed on success and rolled back on any error."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session

from flotilla.db import Database


class UnitOfWork:
    """``with MyUnitOfWork(db, write=True) as uow:``; subclasses attach repositories in ``_bind``.

    An event consumer that already holds a transaction hands its session in with
    ``MyUnitOfWork.of(session)`` so a handler's writes join it.
    """

    session: Session

    def __init__(self, db: Database | None, *, write: bool = False) -> None:
        self._db = db
        self._write = write
        self._cm: AbstractContextManager[Session] | None = None

    @classmethod
    def of(cls, session: Session) -> Self:
        uow = cls(None)
        uow._bind(session)
        return uow

    def _bind(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Self:
        if self._db is None:
            raise RuntimeError("a unit of work made with .of(session) is not entered")
        self._cm = self._db.session(write=self._write)
        self._bind(self._cm.__enter__())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._cm is not None
        self._cm.__exit__(exc_type, exc, tb)
