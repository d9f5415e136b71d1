"""Days as whole numbers in SQL, the same on PostgreSQL and SQLite, and the periods read.

``day_number(column)`` is the UTC day of a timestamp as days since 1970-01-01: PostgreSQL
subtracts dates, SQLite takes the date part of the text it stores. Grouping by it gives
one row per day; the difference of two is the days between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, SQLColumnExpression
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

EPOCH = date(1970, 1, 1)


class day_number(FunctionElement[int]):
    """The UTC day of a timestamp column, as days since 1970-01-01."""

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number, "postgresql")
def _postgresql_day(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} AS DATE) - DATE '1970-01-01')"


@compiles(day_number, "sqlite")
def _sqlite_day(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(julianday(substr({column}, 1, 10)) - 2440587.5 AS INTEGER)"


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


def number_of(day: date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class Period:
    """The days from ``start`` to ``end``, both included, in UTC."""

    start: date
    end: date

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time.min)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.end + timedelta(days=1), time.min)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def within(column: SQLColumnExpression[datetime], period: Period) -> ColumnElement[bool]:
    return (column >= period.starts_at) & (column < period.ends_at)
