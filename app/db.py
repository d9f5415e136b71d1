"""Database engine and sessions (hand-written SQL for the hottest paths: ``app.sql``).

Invariants: one session per request (``g``), closed at teardown, and closing without a
commit rolls back; web code never commits, service functions do, once, at their end.
On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that read-then-write
sequences cannot interleave (Python's default deferred BEGIN lets them). No database error
carries its statement's values into the log: the engines hide SQL parameters, and errors
are logged as ``describe_error`` puts them (PostgreSQL quotes rows in its DETAIL).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.files import create_private, private_folder
from app.metrics import watch_commits

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, prepared_statements: bool = True, **options: Any) -> Engine:
    """The engine for ``url``; on PostgreSQL, ``prepared_statements=False`` keeps psycopg
    from preparing statements on the server (it does after a statement's fifth use on a
    connection), for a pooler in transaction mode that does not track them: PgBouncer
    before 1.21, or without ``max_prepared_statements``. Every connection the app opens
    comes from here, the threads' held ones too (``app.sql``)."""
    # Customers' names and emails are statement parameters: never in an error's text.
    options["hide_parameters"] = True
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_folder(Path(database).parent)
            create_private(Path(database))
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    if not prepared_statements:
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
    engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_idle_connections(engine)
    return engine


IDLE_BEFORE_PING = 1.0  # seconds


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping`` for connections that sat unused for a while only.

    A ping per checkout is a round trip per request (measured at about a tenth of a
    millisecond of CPU in the worker and in PostgreSQL together), while a connection that
    answered a moment ago is as alive as a ping could tell. A connection that fails its
    ping is replaced, as with ``pool_pre_ping``; one that dies while busy fails its
    statement, and SQLAlchemy then drops every pooled connection of that age.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError(str(error)) from error  # the pool reconnects
            raise


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        # SQLite's lower() knows ASCII only; the card search lower-cases names in any
        # script, as PostgreSQL's lower() does (``app.cards.search``).
        dbapi_connection.create_function("unicode_lower", 1, _unicode_lower,
                                         deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Errors whose message names no value of the statement: connections (08), operator
# intervention (57), resources (53), rollbacks such as deadlocks (40).
_VALUE_FREE_STATES = ("08", "57", "53", "40")


def describe_error(error: BaseException) -> str:
    """A database error as the log may hold it: its kind, SQLSTATE, the table, column and
    constraint it names, and the statement with placeholders, but no value of the row.

    Not the driver's message as such: PostgreSQL's DETAIL quotes the row ("Key
    (email)=(…) already exists") and some messages quote a value ('invalid input syntax
    for type integer: "…"'). SQLite's messages name columns only, and are kept.
    """
    original = getattr(error, "orig", None) or error
    kind = type(original)
    parts = [f"{kind.__module__}.{kind.__qualname__}"]
    state: str | None = getattr(original, "sqlstate", None)
    if state:
        parts.append(f"SQLSTATE {state}")
    diagnostic = getattr(original, "diag", None)
    for name in ("table_name", "column_name", "constraint_name"):
        value = getattr(diagnostic, name, None)
        if value:
            parts.append(f"{name.removesuffix('_name')} {value}")
    if kind.__module__ == "sqlite3" or not state or state.startswith(_VALUE_FREE_STATES):
        message = str(original).strip().splitlines()
        parts.append(message[0] if message else "")
    statement = getattr(error, "statement", None)
    if statement:
        parts.append(f"in: {' '.join(str(statement).split())[:300]}")
    return "; ".join(part for part in parts if part)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The app's sessions; what their transactions count for ``/metrics`` is counted when
    they commit (``app.metrics.count_after_commit``)."""
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
    watch_commits(sessions)
    return sessions


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for code outside a request (CLI, worker); rolls back unless committed."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


class LazySession:
    """A request's session, made on first call (``make``) and the same one after: most
    purchases and wallet requests need none, and one costs as much CPU to make and close
    as a statement. ``made`` is the session if one was made, else None."""

    def __init__(self, make: Callable[[], Session]) -> None:
        self._make = make
        self.made: Session | None = None

    def __call__(self) -> Session:
        if self.made is None:
            self.made = self._make()
        return self.made
