"""Database access: one engine per process, units of work, SQLite and PostgreSQL alike.

SQLite (the development default) gets WAL, foreign keys and a busy timeout, and
write transactions start with ``BEGIN IMMEDIATE`` so two writers queue instead
of failing on a lock upgrade. PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "flotilla_sqlite_begin"


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, begin: bool = True, **kwargs: Any) -> Engine:
    """``begin=False`` (SQLite): no ``BEGIN`` of ours, every statement in SQLite's own
    transaction, for :meth:`Database.read`."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    if _is_file(url):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    _tune_sqlite(engine, begin)
    return engine


def _is_file(url: str) -> bool:
    """A SQLite URL naming a file (not a private in-memory database)."""
    parsed = make_url(url)
    return bool(parsed.database) and parsed.database != ":memory:" and (
        "memory" not in str(parsed.query.get("mode", "")))


def _tune_sqlite(engine: Engine, begin: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    if not begin:
        return  # no connection event listener at all: SQLAlchemy then skips their dispatch

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        if mode is not None:  # None: Database.read(), one statement in SQLite's own transaction
            conn.exec_driver_sql(f"BEGIN {mode}")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """The engine and session factories of one component."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)
        # Reads outside an explicit transaction: no BEGIN/COMMIT pair around one SELECT. A
        # SQLite file gets an engine of its own without the BEGIN hook: with no connection
        # event listener SQLAlchemy skips the event dispatch around each execute, a third of
        # a read's time in SQLAlchemy (docs/decisions/0171-request-hooks.md).
        self._own_reader = self.is_sqlite and _is_file(self.url)
        if self._own_reader:
            self._plain = make_engine(self.url, begin=False, **engine_kwargs)
        elif self.is_sqlite:  # an in-memory database exists only behind its own engine
            self._plain = self.engine.execution_options(**{_BEGIN_OPTION: None})
        else:
            self._plain = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any exception."""
        factory = self._writer if write else self._reader
        with factory() as session, session.begin():
            yield session

    def read(self) -> Connection:
        """A Core connection for reads that are one statement each (a primary-key lookup, a
        page): every statement runs in the database's own implicit transaction, so it sees one
        consistent snapshot, without the session, identity map and BEGIN/COMMIT round trips of
        :meth:`session` (about half a catalog item read, docs/performance.md). Statements
        that must see the same snapshot, and every write, use :meth:`session`. Use it as
        ``with db.read() as conn:`` (the connection goes back to the pool at the end)."""
        return self._plain.connect()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._own_reader:
            self._plain.dispose()
