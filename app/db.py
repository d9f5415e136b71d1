"""Database engine and sessions, and hand-written SQL for the few hottest paths.

Invariants: one session per request (``g``), closed at teardown, and closing without a
commit rolls back; web code never commits, service functions do, once, at their end.
On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that read-then-write
sequences cannot interleave (Python's default deferred BEGIN lets them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
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


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for code outside a request (CLI, worker); rolls back unless committed."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


# Hand-written SQL on a DBAPI connection: the session's, or one of its own from the pool.

SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite, where it is compared as text."""
    return SQLITE_DATETIME % (value.year, value.month, value.day, value.hour, value.minute,
                              value.second, value.microsecond)


class SQL:
    """One statement written with ``:name`` parameters, in each driver's own style."""

    __slots__ = ("postgresql", "text")

    def __init__(self, text: str) -> None:
        self.text = text  # also SQLite's (sqlite3 takes ``:name`` as it is)
        self.postgresql = _PARAMETER.sub(r"%(\1)s", text.replace("%", "%%"))


class Raw:
    """A DBAPI connection, for the hot paths where SQLAlchemy's own work per statement
    (about 0.2 ms of CPU, five times the driver's) would be most of the cost.

    ``Raw.of(session)`` runs statements in the session's transaction, so that they commit
    or roll back with the rest of it (but ``alone``'s). ``Raw.apart(engine, session)`` is
    for a unit of work that needs nothing else of the session: on PostgreSQL a pooled
    connection of its own, without the session's bookkeeping (as costly as the statements
    themselves), on SQLite the session's (its write lock, from BEGIN IMMEDIATE).

    Values are bound the way SQLAlchemy binds them, so that what is written reads back
    the same through the ORM: on SQLite, datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text
    and decimals as floats; JSON as ``json.dumps`` text on both (PostgreSQL's ``json``
    keeps the text as sent).
    """

    __slots__ = ("_cursor", "_driver", "_json", "_session", "_transaction", "postgres")

    def __init__(self, *, postgres: bool, session: Session | None = None,
                 driver: Any = None) -> None:
        self._session, self.postgres = session, postgres
        self._transaction: Any = None  # the session's, that _driver belongs to
        self._driver: Any = driver
        self._cursor: Any = driver.cursor() if driver is not None else None
        if postgres:  # psycopg's wrapper: the same text, sent as json rather than text
            from psycopg.types.json import Json

            self._json: Any = Json
        else:
            self._json = json.dumps

    @classmethod
    def of(cls, session: Session) -> Raw:
        """The session's, on its connection in its current transaction (begun if need be)."""
        raw: Raw | None = session.info.get(_RAW)
        if raw is None:
            postgres = session.get_bind().dialect.name == "postgresql"
            raw = session.info[_RAW] = cls(postgres=postgres, session=session)
        return raw

    @classmethod
    @contextmanager
    def apart(cls, engine: Engine, session: Callable[[], Session]) -> Iterator[Raw]:
        """See above (``session`` makes or gets the session, for SQLite): ``commit`` and
        ``rollback`` end its transactions."""
        if engine.dialect.name != "postgresql":
            yield cls.of(session())
            return
        connection = engine.raw_connection()
        raw: Raw | None = connection.info.get(_RAW)  # one per connection, with its cursor
        if raw is None:
            raw = connection.info[_RAW] = cls(postgres=True, driver=connection.driver_connection)
        try:
            yield raw
        finally:
            connection.close()  # back to the pool, which rolls back what is left open

    @property
    def in_session(self) -> bool:
        """Whether it is the session's (``of``), not a connection apart."""
        return self._session is not None

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        else:
            self._driver.commit()  # nothing to do after statements ``alone``

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        elif self._driver.info.transaction_status != _IDLE:
            self._driver.rollback()

    def _connection(self) -> Any:
        """The DBAPI connection; the session's in its current transaction."""
        if self._session is not None and (
                self._cursor is None or self._session.get_transaction() is not self._transaction):
            connection = self._session.connection()  # begins a transaction if none is open
            self._transaction = self._session.get_transaction()
            self._driver = connection.connection.driver_connection
            self._cursor = self._driver.cursor()
        return self._driver

    def execute(self, sql: SQL, values: Mapping[str, Any]) -> Any:
        """Run one statement; the DBAPI cursor, to fetch from."""
        self._connection()
        self._cursor.execute(sql.postgresql if self.postgres else sql.text, values)
        return self._cursor

    def one(self, sql: SQL, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run one statement that returns rows: the first, or None."""
        row: tuple[Any, ...] | None = self.execute(sql, values).fetchone()
        return row

    def alone(self, sql: SQL, values: Mapping[str, Any], *, rows: bool = True
              ) -> tuple[Any, ...] | None:
        """``one`` (or ``execute``, without ``rows``) as a transaction of its own when none
        is open on the connection yet (PostgreSQL): the server commits it as it ends,
        without BEGIN and COMMIT round trips. The session's transaction stays open around
        it, and on SQLite it has begun already: there the statement is part of it."""
        driver = self._connection()
        if not self.postgres or driver.info.transaction_status != _IDLE:
            return self._run(sql, values, rows)
        driver.autocommit = True
        try:
            return self._run(sql, values, rows)
        finally:
            driver.autocommit = False

    def _run(self, sql: SQL, values: Mapping[str, Any], rows: bool) -> tuple[Any, ...] | None:
        cursor = self.execute(sql, values)
        return cursor.fetchone() if rows else None

    def each(self, sql: SQL, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._connection()
            self._cursor.executemany(sql.postgresql if self.postgres else sql.text, rows)

    def unique_violation(self, error: Exception) -> str | None:
        """The unique constraint ``error`` broke, if that is what it is (PostgreSQL)."""
        if self.postgres and getattr(error, "sqlstate", None) == "23505":
            constraint: str | None = error.diag.constraint_name  # type: ignore[attr-defined]
            return constraint
        return None

    def time(self, value: datetime | None) -> Any:
        return value if value is None or self.postgres else sqlite_datetime(value)

    def number(self, value: Decimal) -> Any:
        return value if self.postgres else float(value)

    def json(self, value: Any) -> Any:
        return self._json(value)

    def json_text(self, text: str) -> Any:
        """JSON already written out (``json.dumps``), bound as ``json`` would bind it."""
        return self._json(text, _as_is) if self.postgres else text

    @staticmethod
    def read_time(value: Any) -> Any:
        """A datetime read back: SQLite returns the stored text."""
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    @staticmethod
    def read_json(value: Any) -> Any:
        """A JSON value read back: SQLite returns the stored text."""
        return json.loads(value) if isinstance(value, str) else value


def _as_is(text: str) -> str:
    return text


_RAW = "loyalpass.raw"  # the session's Raw in session.info, a connection's in its info
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection


