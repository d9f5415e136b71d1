"""The hand-written statements (``app.sql.SQL``: the purchase's, the API key's, the
idempotency claim's, the delivered pushes' record, with the outbox row's fragment) name
only columns that the models declare: a column renamed in a model but not in the SQL fails
here, not at the counter.

Every identifier of a statement (string literals, parameters and function names aside)
must be a column of a table the statement names, unless it is one of the few SQL words,
types, aliases and system columns listed below; ``table.column`` must be that table's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import app.models  # noqa: F401  (every package's models, on the metadata)
from app.db import Base
from app.delivery import pushes
from app.devices import signing_ahead, wallet_reads
from app.ledger import idempotency, purchase_offers, purchase_rows
from app.merchants import service as merchants
from app.outbox import messages, webhooks
from app.sql import SQL

MODULES = (purchase_rows, purchase_offers, idempotency, merchants, messages, webhooks,
           wallet_reads, signing_ahead, pushes)
# Not columns: SQL's words and types, the statements' own aliases (the purchase's CTEs
# ``card`` and ``row_N``, the lateral ``recent``, the JSON recordsets ``entry`` and
# ``event`` with its ``ordinal``; the wallet's pass subqueries ``last`` and ``shown``), and
# PostgreSQL's system column ``xmin``.
NOT_COLUMNS = frozenset((
    "select", "from", "where", "and", "or", "not", "null", "is", "as", "on", "join", "left",
    "delete",
    "lateral", "with", "insert", "into", "values", "update", "set", "returning", "for", "of",
    "cast", "case", "when", "then", "else", "end", "true", "false", "conflict", "do",
    "nothing", "text", "integer", "bigint", "varchar", "recent", "card", "entry", "xmin",
    "rows", "ordinality", "json", "order", "by", "event", "ordinal", "desc", "limit", "last",
    "shown"))
_LITERAL = re.compile(r"'[^']*'")
_WORD = re.compile(r"(?<![:\w.])([A-Za-z_]\w*)(?:\.(\w+|\*))?(?!\w)(\s*\()?")
_NAMING = re.compile(r"\bAS\s+(\w+)(?!\s*\()", re.IGNORECASE)  # an alias (or a type)
_TABLE = re.compile(r"\b(?:from|join|into|update)\s+(\w+)", re.IGNORECASE)
_ALIAS = re.compile(r"row_\d+")


def statements() -> Iterator[tuple[str, str]]:
    """(name, text) of every ``SQL`` the modules hold, alone or in a dict."""
    for module in MODULES:
        for name, value in vars(module).items():
            found: Mapping[object, object] = value if isinstance(value, dict) else {"": value}
            for variant, sql in found.items():
                if isinstance(sql, SQL):
                    suffix = f"[{variant}]" if variant != "" else ""
                    yield f"{module.__name__}.{name}{suffix}", sql.text


def unknown_columns(text: str, tables: Mapping[str, set[str]]) -> list[str]:
    """The identifiers of ``text`` that are no column of the tables it names."""
    text = _LITERAL.sub("''", text)
    named = [table for table in _TABLE.findall(text) if table in tables]
    aliases = {alias.lower() for alias in _NAMING.findall(text)}
    unknown = []
    for first, second, call in _WORD.findall(text):
        word = first.lower()
        if second:  # table.column (or alias.column: an alias is no table of the models)
            if word in tables and second not in tables[word] | NOT_COLUMNS | {"*"}:
                unknown.append(f"{first}.{second}")
            continue
        if (call or word in NOT_COLUMNS or word in aliases or word in tables
                or _ALIAS.fullmatch(word)):
            continue
        if not any(word in tables[table] for table in named):
            unknown.append(first)
    return unknown


def model_columns() -> dict[str, set[str]]:
    return {name: {column.name for column in table.columns}
            for name, table in Base.metadata.tables.items()}


def test_every_column_the_hand_written_sql_names_is_a_column_of_the_models() -> None:
    tables = model_columns()
    found = dict(statements())
    rows = "app.ledger.purchase_rows."
    assert {rows + f"READ_PURCHASE[{(postgres, keyed)}]" for postgres in (True, False)
            for keyed in (True, False)} | {rows + "LOCK_CARD[False]", rows + "FIND_RECORD",
            rows + "INSERT_OUTBOX", rows + "WRITE_PURCHASE[(True, True)]",
            rows + "SQLITE_UPDATE_CARD", "app.ledger.purchase_offers.READ_CARD_OFFERS",
            "app.merchants.service._FIND_KEY", "app.ledger.idempotency._CLAIM"} <= set(found)
    assert {name: unknown_columns(text, tables) for name, text in found.items()
            if unknown_columns(text, tables)} == {}


def test_a_column_renamed_in_a_model_but_not_in_the_sql_is_caught() -> None:
    for table, column in (("cards", "pass_last_modified"), ("outbox", "available_at"),
                          ("purchases", "refunded_paid"), ("api_keys", "secret_hash"),
                          ("idempotency_records", "request_hash")):
        tables = model_columns()
        tables[table] = (tables[table] - {column}) | {column + "_renamed"}
        missed = {name for name, text in statements()
                  if column in unknown_columns(text, tables)
                  or f"{table}.{column}" in unknown_columns(text, tables)}
        assert missed, f"{table}.{column} renamed in the model went unnoticed"

