"""Statements over many rows at once, for use cases that write or look up thousands of
rows (an import): never a round trip per row.

``insert_rows`` copies rows in (PostgreSQL: ``COPY ... FROM STDIN`` on the session's own
connection; SQLite: one ``executemany``), ``rows_among`` reads the rows whose column is
one of many values (PostgreSQL: ``= ANY`` of one array, which it plans several times
faster than a long ``IN`` list; SQLite: ``IN`` lists of ``CHUNK``). Both run in the
session's transaction; neither commits. ``among`` is the condition "one of these values"
as one bound value however many there are, for any statement (an UPDATE too): an
``IN`` list binds one parameter per value, and PostgreSQL's protocol takes at most 65,535
(an offer to 100,000 cards could not be published), SQLite at most 32,766.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from sqlalchemy import ColumnElement, Table, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

CHUNK = 5000  # values per IN (...) on SQLite: well inside its limit of bound values
T = TypeVar("T")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_if_absent(session: Session, table: Table, values: dict[str, Any],
                     key: Sequence[str]) -> None:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` on either database: a row that a racing
    transaction may be writing too (the caller then locks it)."""
    make = pg_insert if is_postgres(session) else sqlite_insert
    session.execute(make(table).values(values).on_conflict_do_nothing(index_elements=key))


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def rows_among(session: Session, query: Any, column: Any, values: Sequence[Any]
               ) -> Iterator[Any]:
    """The rows of ``query`` (a select) whose ``column`` is one of ``values``."""
    if not values:
        return
    if is_postgres(session):
        array = bindparam("among", list(values), type_=ARRAY(column.type))
        yield from session.execute(query.where(column == any_(array))).all()
        return
    for chunk in chunks(values):
        yield from session.execute(query.where(column.in_(chunk))).all()


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values``, bound as one value: ``= ANY`` of an array on
    PostgreSQL, ``IN`` the elements of a JSON array on SQLite (``json_each``)."""
    listed = list(values)
    result: ColumnElement[bool]
    if is_postgres(session):
        result = column == any_(bindparam(None, listed, type_=ARRAY(column.type)))
    else:
        elements = func.json_each(bindparam(None, json.dumps(listed))).table_valued("value")
        result = column.in_(select(elements.c.value))
    return result


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` (each with the same keys, in the same order) into ``table``."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(insert(table), list(rows))
        return
    driver = session.connection().connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({', '.join(rows[0])}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                # JSON as its text (the column parses it); the rest as psycopg adapts it.
                copy.write_row([json.dumps(value) if isinstance(value, dict) else value
                                for value in row.values()])
    except psycopg.IntegrityError as error:
        # As SQLAlchemy raises it for its own statements, so callers catch one kind.
        raise IntegrityError(statement, None, error) from error
