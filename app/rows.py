"""Rows of the hand-written SQL (``app.sql``), read by column name.

The DBAPI drivers return plain tuples. A statement's row is therefore a frozen dataclass
whose fields are named after its columns: the select (or RETURNING) list is written from
those fields (``columns``) and a fetched row becomes the dataclass by the same names
(``read``). The list and the fields cannot drift apart, since one is made from the
other, and a row of another width is an error rather than a shifted read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, TypeVar

Row = TypeVar("Row")


def names(shape: type[Any]) -> tuple[str, ...]:
    """The columns of a row's dataclass, in the order its select list names them."""
    return tuple(field.name for field in fields(shape))


def columns(shape: type[Any], table: str | None = None) -> str:
    """The select list of ``shape``: ``table.a, table.b`` (or ``a, b``)."""
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + name for name in names(shape))


def read(shape: type[Row], values: Sequence[Any]) -> Row:
    """A fetched row (of the list ``columns(shape)`` wrote) as ``shape``, field by name."""
    return shape(**dict(zip(names(shape), values, strict=True)))
