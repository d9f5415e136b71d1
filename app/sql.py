"""Hand-written SQL for the few hottest paths (the counter's purchase, API keys,
idempotency records), on a DBAPI connection: the session's, or one the thread holds.

SQLAlchemy's own work per statement (about 0.2 ms of CPU, five times the driver's) would
be most of a purchase's cost, and so would a pool checkout per request: the checkout, its
events and the reset at checkin cost as much CPU in the web process as a statement, and
PostgreSQL spent more too, measured, when a worker's requests went round the pooled
connections instead of staying on one. So ``Raw.thread_connection`` gives each thread one
connection of its own, in autocommit: a statement is a transaction of its own (no BEGIN or
COMMIT round trips) unless ``begin`` opened one.

The held connections are the running app's (``HeldConnections``, made with its engine:
``app.runtime.Runtime.held``). Each (``_Held``) is taken from the engine's pool once and
detached from it, so it is neither counted against the pool nor reset by it: it is the
thread's, and at most one per thread. It is pinged before use after a second unused (as
``app.db`` pings pooled connections), replaced when broken, handed on to a new thread
when its thread ends (a few are kept for that), closed when its engine is disposed (at
its next release, if that finds it in use), and never touched in a process forked from
the one that opened it (whose server session it shares).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import IDLE_BEFORE_PING
from app.errors import Unavailable

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
    """A DBAPI connection to run ``SQL`` on.

    ``Raw.of_session(session)`` runs statements in the session's transaction, so that
    they commit or roll back with the rest of it (but for a statement ``one_without_begin``
    or ``execute_without_begin`` ran while none was open: see there).
    ``Raw.thread_connection(held, session)`` is for a unit of work that needs
    nothing else of the session: on PostgreSQL the thread's own connection (see above),
    on SQLite the session's (its write lock, from BEGIN IMMEDIATE). Either way ``begin``
    opens a transaction and ``commit`` or ``rollback`` end it.

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
        self._driver: Any = driver  # the thread's own (``thread_connection``): autocommit
        self._cursor: Any = driver.cursor() if driver is not None else None
        if postgres:  # psycopg's wrapper: the same text, sent as json rather than text
            from psycopg.types.json import Json

            self._json: Any = Json
        else:
            self._json = json.dumps

    @classmethod
    def of_session(cls, session: Session) -> Raw:
        """The session's, on its connection in its current transaction (begun if need be);
        the same one for every call with that session."""
        raw: Raw | None = session.info.get(_RAW)
        if raw is None:
            postgres = session.get_bind().dialect.name == "postgresql"
            raw = session.info[_RAW] = cls(postgres=postgres, session=session)
        return raw

    @classmethod
    @contextmanager
    def thread_connection(cls, connections: HeldConnections, session: Callable[[], Session]
                          ) -> Iterator[Raw]:
        """The thread's own connection from ``connections`` (PostgreSQL), or the
        session's (SQLite: ``session`` makes or gets it), for the block; see above.
        Leaving rolls back what was begun and not committed."""
        if not connections.postgres:
            yield cls.of_session(session())
            return
        held = connections.acquire()
        try:
            yield held.raw
        finally:
            connections.release(held)

    @property
    def in_session(self) -> bool:
        """Whether it is the session's (``of_session``), not the thread's own."""
        return self._session is not None

    def begin(self) -> None:
        """A transaction for the statements that follow, until ``commit`` or ``rollback``."""
        driver = self._connection()  # the session's begins one as it is asked for
        if self._session is None and driver.pgconn.transaction_status == _IDLE:
            self._cursor.execute("BEGIN")

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        elif self._driver.pgconn.transaction_status != _IDLE:
            self._cursor.execute("COMMIT")

    def rollback(self) -> None:
        """End the transaction; on a connection that broke, the server has ended it."""
        if self._session is not None:
            self._session.rollback()
        elif not self._driver.broken and self._driver.pgconn.transaction_status != _IDLE:
            self._cursor.execute("ROLLBACK")

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
        """Run one statement (on the thread's own connection outside ``begin``: as a
        transaction of its own);
        the DBAPI cursor, to fetch from. The driver's OperationalError (the server went
        away, a timeout, SQLite stayed locked) is ``Unavailable``: nothing committed."""
        self._connection()
        try:
            self._cursor.execute(sql.postgresql if self.postgres else sql.text, values)
        except Exception as error:
            if _operational(error):
                raise Unavailable() from error
            raise
        return self._cursor

    def one(self, sql: SQL, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run one statement that returns rows: the first, or None."""
        row: tuple[Any, ...] | None = self.execute(sql, values).fetchone()
        return row

    def one_without_begin(self, sql: SQL, values: Mapping[str, Any]
                          ) -> tuple[Any, ...] | None:
        """``one``, but never opening a transaction for it: when none is open on the
        connection yet (PostgreSQL), the statement is a transaction of its own, which the
        server commits as it ends, without BEGIN and COMMIT round trips. A transaction
        already open stays open around it (on SQLite the session's has begun already:
        there the statement is part of it)."""
        row: tuple[Any, ...] | None = self._without_begin(sql, values).fetchone()
        return row

    def all_without_begin(self, sql: SQL, values: Mapping[str, Any]
                          ) -> list[tuple[Any, ...]]:
        """``one_without_begin``, every row."""
        return list(self._without_begin(sql, values).fetchall())

    def execute_without_begin(self, sql: SQL, values: Mapping[str, Any]) -> None:
        """``one_without_begin`` for a statement that returns no rows."""
        self._without_begin(sql, values)

    def _without_begin(self, sql: SQL, values: Mapping[str, Any]) -> Any:
        """The cursor, having run the statement (see ``one_without_begin``); its rows are
        fetched after (psycopg's cursor holds them once the statement ran)."""
        driver = self._connection()
        if (self._session is None or not self.postgres
                or driver.pgconn.transaction_status != _IDLE):
            return self.execute(sql, values)
        driver.autocommit = True
        try:
            return self.execute(sql, values)
        finally:
            if not driver.broken:  # a lost connection is the pool's to throw away
                driver.autocommit = False

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


def _operational(error: Exception) -> bool:
    """Whether a driver's error is an OperationalError (each DBAPI driver has its own)."""
    return any(kind.__name__ == "OperationalError" for kind in type(error).__mro__)



_RAW = "loyalpass.raw"  # the session's Raw in session.info
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (``pgconn.transaction_status``): none open


# The connections held apart (PostgreSQL).

class _Held:
    """One thread's connection for ``Raw.thread_connection``."""

    __slots__ = ("__weakref__", "busy", "closed", "owner", "pid", "raw", "stale", "used_at")

    def __init__(self, owner: HeldConnections, raw: Raw, used_at: float) -> None:
        self.owner = weakref.ref(owner)
        self.raw, self.used_at, self.pid = raw, used_at, os.getpid()
        self.busy = self.stale = self.closed = False

    @property
    def driver(self) -> Any:
        return self.raw._driver

    def usable(self) -> bool:
        return not (self.stale or self.closed or self.driver.closed or self.driver.broken)

    def alive(self, engine: Engine) -> bool:
        """Whether it answers a ping; a connection that does not is closed."""
        try:
            engine.dialect.do_ping(self.driver)
        except engine.dialect.loaded_dbapi.Error:
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.closed or self.pid != os.getpid():
            return  # a forked process must not end its parent's server session
        self.closed = True
        with contextlib.suppress(Exception):  # a broken socket may not close cleanly
            self.driver.close()

    def __del__(self) -> None:
        # Its thread ended (or its engine is gone): the next thread may have it.
        owner = self.owner()
        if owner is None or self.busy or not self.usable() or self.pid != os.getpid():
            self.close()
        else:
            self.closed = True  # this wrapper's: the connection lives on as a spare
            owner.keep(self.raw, self.used_at)


class _Thread(threading.local):
    held: _Held | None = None


class HeldConnections:
    """A running app's held connections to its engine's database: one per thread, all of
    them known for the engine's ``dispose``, which closes them; those of threads that
    ended are kept (``MAX_SPARE`` at most) for new threads, as a threaded development
    server starts one per request. On SQLite there are none (``Raw.thread_connection``)."""

    MAX_SPARE = 8

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        event.listen(engine, "engine_disposed", self._disposed)
        self._thread = _Thread()
        self._every: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._spare: list[tuple[Raw, float, int]] = []  # with the pid that opened it
        self._lock = threading.Lock()

    def acquire(self) -> _Held:
        held = self._thread.held
        if held is not None and held.pid != os.getpid():
            _INHERITED.append(held)  # never closed, nor collected (which would close it)
            held = None
        while True:
            if held is not None and held.usable() and (
                    time.monotonic() - held.used_at < IDLE_BEFORE_PING
                    or held.alive(self.engine)):
                held.busy = True
                return held
            if held is not None:
                held.close()
            held = self._thread.held = self._take()

    def _take(self) -> _Held:
        """A spare connection, or a new one."""
        with self._lock:
            raw, used_at, pid = self._spare.pop() if self._spare else (None, 0.0, 0)
        if raw is not None and pid != os.getpid():
            _INHERITED.append(raw)  # as above: the parent's
            raw = None
        if raw is None:
            try:  # with the engine's connect arguments, events
                pooled = self.engine.raw_connection()
            except Exception as error:  # the pool's connect is the driver's, unwrapped
                if _operational(error):  # the server is down or restarting: a 503
                    raise Unavailable() from error
                raise
            driver: Any = pooled.driver_connection
            pooled.detach()  # the pool forgets it: closing it closes it
            driver.autocommit = True
            raw, used_at = Raw(postgres=True, driver=driver), time.monotonic()
        held = _Held(self, raw, used_at)
        with self._lock:
            self._every.add(held)
        return held

    def keep(self, raw: Raw, used_at: float) -> None:
        with self._lock:
            if len(self._spare) < self.MAX_SPARE:
                self._spare.append((raw, used_at, os.getpid()))
                return
        with contextlib.suppress(Exception):
            raw._driver.close()

    def release(self, held: _Held) -> None:
        """After use: what was begun and not committed is rolled back; a connection that
        fails at that (the server rolls back as it closes), or that the engine's disposal
        met in use, is closed, and replaced at next use."""
        held.busy = False
        held.used_at = time.monotonic()
        if held.stale:
            held.close()
            return
        try:
            held.raw.rollback()
        except Exception:
            held.close()

    def _disposed(self, _engine: Engine) -> None:
        self.close_all()

    def close_all(self) -> None:
        """The engine was disposed: its held connections go too, those in use after use."""
        with self._lock:
            every, spare, self._spare = list(self._every), self._spare, []
        for held in every:
            held.stale = True
            if not held.busy:
                held.close()
        for raw, _, pid in spare:
            if pid == os.getpid():
                with contextlib.suppress(Exception):
                    raw._driver.close()


_INHERITED: list[Any] = []  # a forked process's inheritance, never closed nor collected
