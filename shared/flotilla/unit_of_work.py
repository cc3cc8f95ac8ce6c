"""The unit of work every service's own one builds on: one transaction, the
repositories bound to it, committed on success and rolled back on any error.

Use cases take a :class:`UnitOfWorkFactory` (``uow(write=True)``), never a
``Database``: the composition root hands them the real one, unit tests a fake
that keeps its repositories in memory (:class:`InMemoryUnitOfWork`).
"""

from __future__ import annotations

import threading
import weakref
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from types import SimpleNamespace, TracebackType
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy.orm import Session

from flotilla.db import Database

U_co = TypeVar("U_co", covariant=True)

_writers: weakref.WeakKeyDictionary[Database, threading.RLock] = weakref.WeakKeyDictionary()
_writers_guard = threading.Lock()


def sqlite_writer(db: Database) -> AbstractContextManager[object]:
    """Held around a write transaction on SQLite: this process's writers queue on one lock.

    SQLite admits one writer at a time anyway; a second thread's ``BEGIN IMMEDIATE`` does not
    queue but sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms), so under load a process's
    own threads kept each other waiting far longer than any transaction lasts (POST /orders at
    100/s, docs/performance.md). Processes still meet at SQLite's lock. PostgreSQL: no lock.
    """
    if not db.is_sqlite:
        return nullcontext()
    lock = _writers.get(db)
    if lock is None:
        with _writers_guard:
            lock = _writers.setdefault(db, threading.RLock())
    return lock


class UnitOfWorkFactory(Protocol[U_co]):
    """What a use case is given: ``with uow(write=True) as tx: ...``."""

    def __call__(self, *, write: bool = False) -> U_co: ...


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
        self._writer: AbstractContextManager[object] | None = None

    @classmethod
    def of(cls, session: Session) -> Self:
        uow = cls(None)
        uow._bind(session)
        return uow

    @classmethod
    def factory(cls, db: Database) -> UnitOfWorkFactory[Self]:
        """The factory the composition root hands the use cases."""
        return partial(cls, db)

    def _bind(self, session: Session) -> None:
        self.session = session

    def flush(self) -> None:
        """Send pending writes (to learn generated values or hit constraints early)."""
        self.session.flush()

    def __enter__(self) -> Self:
        if self._db is None:
            raise RuntimeError("a unit of work made with .of(session) is not entered")
        if self._write:
            self._writer = sqlite_writer(self._db)
            self._writer.__enter__()
        try:
            self._cm = self._db.session(write=self._write)
            self._bind(self._cm.__enter__())
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._cm is not None
        try:
            self._cm.__exit__(exc_type, exc, tb)
        finally:
            self._release()

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.__exit__(None, None, None)


class InMemoryUnitOfWork:
    """The base of a service's fake unit of work, for unit tests of its rules.

    ``session`` is a stand-in with ``info`` (where after-commit hooks queue) and a
    no-op ``flush``; ``commits`` counts the transactions that ended without error,
    ``rollbacks`` the ones that raised. Subclasses attach in-memory repositories in
    ``_bind`` (called once per ``with``).
    """

    def __init__(self, *, write: bool = False) -> None:
        self.write = write
        self.commits = 0
        self.rollbacks = 0
        self.session: Any = SimpleNamespace(info={}, flush=lambda: None)

    def _bind(self) -> None:
        """Attach the fake repositories; override."""

    def flush(self) -> None:
        """Nothing to send: the fake repositories hold their rows already."""

    def __enter__(self) -> Self:
        self._bind()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commits += 1
        else:
            self.rollbacks += 1
