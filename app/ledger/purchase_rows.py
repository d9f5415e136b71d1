"""A purchase's rows (see ``app.ledger.purchases``): the hand-written statements that read
and write them, what they read (the card; its program's terms, cached by the program's
version), and what they write (the entries; the values are ``app.ledger.purchase_values``').
Rows are read by column name: each row is a frozen dataclass whose fields are the columns'
names, the select list is written from those fields, and values are matched by name
(``app.rows``); tests/test_sql_columns.py checks every column named here against the models.

``READ_PURCHASE``: the API key (by its prefix: the caller checks it), or for a staff
member signed in to the dashboard (``SignedIn``: the dashboard checked them) their
merchant, the card by its number with its program's version, the rolling 12-month spend
and velocity counts, the purchase's id to be, and (PostgreSQL) the card row's xmin, which
every update moves. The idempotency record is looked for only when the purchase cannot be
made as asked (``FIND_RECORD``): in the write, its unique index meets a key used before.

``WRITE_PURCHASE`` (PostgreSQL): the card's update, only if its xmin is still the one
read, and every row of the purchase selected from that update (so that all or nothing is
written), then NOTIFY. On SQLite the same rows are written one statement each, under the
database's write lock taken at BEGIN.

Parameters are named (``app.sql.SQL``). The CASTs type the ones that may be NULL, which
PostgreSQL cannot infer in a SELECT list.
"""
# ruff: noqa: S608 (the statements are put together from the constants here only)

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from app import rows
from app.clock import utcnow
from app.ledger.fraud import CARD_WINDOWS
from app.ledger.purchase_offers import COUPON_CONSTRAINT, COUPON_ROW
from app.merchants.models import Program
from app.merchants.service import KEY_COLUMNS, KeyRow, PresentedKey
from app.offers.mechanics import LiveOffer
from app.offers.till import live_offers
from app.outbox.messages import NOTIFY_EXPRESSION, OUTBOX_ROW
from app.outbox.webhooks import WEBHOOK_ROW, WEBHOOK_ROWS
from app.points.postings import TIER_WINDOW, program_rules
from app.points.rules import PurchaseOutcome, Rules
from app.sql import SQL, Raw

KEY_CONSTRAINT = "uq_idempotency_merchant_key"  # a WRITE that breaks it meets another request
MAX_CACHED_TERMS = 256


@dataclass(frozen=True, slots=True)
class PurchaseCardRow:
    """The card row as the purchase read it: ``cards``' columns by their names, and the
    version of its program (``_FROM_PROGRAM``)."""

    id: int
    merchant_id: int
    program_id: int
    number: str
    status: str
    balance: int
    stamps: int
    rewards: int
    tier: str | None
    visits: int
    lifetime_spend: int
    last_visit_at: datetime | None
    pass_version: int
    pass_updated_at: datetime
    pass_last_modified: datetime
    program_updated_at: datetime


_FROM_PROGRAM = {"program_updated_at": "programs.updated_at"}
_TIMES = frozenset({  # which SQLite returns as text (``Raw.read_time``)
    "last_visit_at", "pass_updated_at", "pass_last_modified", "program_updated_at"})
_CARD = rows.names(PurchaseCardRow)
_KEY_WIDTH = len(rows.names(KeyRow))
_CARD_COLUMNS = ", ".join(f"{_FROM_PROGRAM[name]} AS {name}" if name in _FROM_PROGRAM
                          else "cards." + name for name in _CARD) + ", "


@dataclass(frozen=True)
class SignedIn:
    """A staff member at the counter through the dashboard, already signed in and
    authorized there: the purchase reads their merchant instead of an API key."""

    merchant_id: int


# Who is at the counter: an API key as presented (checked by the caller with what the
# statement read), or a signed-in staff member.
AtCounter = PresentedKey | SignedIn
# The unary plus keeps the planners on the number's unique index: without statistics (a
# new table) PostgreSQL chose to scan all the merchant's cards by their merchant's index.
# (A statement's plan is made once per connection, while the tables are new and small, and
# kept: a join that the plan made then scans a table instead of an index stays so.)
_FROM = {  # by whether an API key is presented
    True: " FROM api_keys LEFT JOIN cards ON cards.number = :number"
          " AND +cards.merchant_id = api_keys.merchant_id",
    False: " FROM merchants LEFT JOIN cards ON cards.number = :number"
           " AND +cards.merchant_id = merchants.id"}
_PROGRAM = " LEFT JOIN programs ON programs.id = cards.program_id"
_WHERE = {True: " WHERE api_keys.prefix = :prefix", False: " WHERE merchants.id = :merchant_id"}
# An id is taken from the sequence for a key with the secret presented only.
_NEXT_ID = {True: "CASE WHEN api_keys.secret_hash = :secret_hash THEN"
                  " nextval('purchases_id_seq') END", False: "nextval('purchases_id_seq')"}
# By the names ``Read.of`` reads them by (each column is written ``AS`` its name).
_RECENT = {"spend_12_months": "coalesce(sum(amount_paid - refunded_paid), 0)", **{
    name: f"count(CASE WHEN created_at > :{name} THEN 1 END)" for name, _, _ in CARD_WINDOWS}}
_OF_THE_CARD = " FROM purchases WHERE card_id = cards.id AND created_at > :since"


def _read_purchase(*, postgres: bool, keyed: bool) -> SQL:
    select = "SELECT " + (KEY_COLUMNS + ", " if keyed else "") + _CARD_COLUMNS
    if postgres:
        return SQL(select + "CAST(cards.xmin AS text) AS card_version, " + _NEXT_ID[keyed]
                   + " AS purchase_id, recent.*" + _FROM[keyed] + _PROGRAM
                   + " LEFT JOIN LATERAL (SELECT " + ", ".join(
                       f"{column} AS {name}" for name, column in _RECENT.items())
                   + _OF_THE_CARD + ") AS recent ON true" + _WHERE[keyed])
    # SQLite: the next rowid, which nobody else can take while we hold the write lock.
    return SQL(select + "NULL AS card_version, (SELECT coalesce(max(id), 0) + 1 FROM"
               " purchases) AS purchase_id, " + ", ".join(
                   f"(SELECT {column}{_OF_THE_CARD}) AS {name}"
                   for name, column in _RECENT.items()) + _FROM[keyed] + _PROGRAM
               + _WHERE[keyed])


READ_PURCHASE = {  # by (PostgreSQL or not, an API key presented or not)
    (postgres, keyed): _read_purchase(postgres=postgres, keyed=keyed)
    for postgres in (True, False) for keyed in (True, False)}


@dataclass(frozen=True, slots=True)
class Record:
    """An idempotency record: the request it answered (hash), and the answer."""

    request_hash: str
    status_code: int
    response: Any  # JSON: SQLite's text (``Raw.read_json``)


# The columns after the key's, by the names the statements give them.
_READ_NAMES = (*_CARD, "card_version", "purchase_id", *_RECENT)
FIND_RECORD = SQL("SELECT " + rows.columns(Record) + " FROM idempotency_records"
                  " WHERE merchant_id = :merchant_id AND key = :key")
# PostgreSQL, when the card changed between READ and WRITE: the second run holds it.
LOCK_CARD = {  # by whether an API key is presented
    True: SQL("SELECT cards.id FROM cards JOIN api_keys"
              " ON +cards.merchant_id = api_keys.merchant_id"
              " WHERE cards.number = :number AND api_keys.prefix = :prefix"
              " FOR UPDATE OF cards"),
    False: SQL("SELECT cards.id FROM cards WHERE cards.number = :number"
               " AND cards.merchant_id = :merchant_id FOR UPDATE OF cards")}

UPDATE_CARD = (
    "UPDATE cards SET balance = :balance_after, stamps = :stamps_after,"
    " rewards = :rewards_after, tier = :tier, visits = :visits,"
    " lifetime_spend = :lifetime_spend, last_visit_at = :last_visit_at,"
    " pass_version = :pass_version, pass_updated_at = :pass_updated_at,"
    " pass_last_modified = :pass_last_modified WHERE id = :card_id")
RECORD_ROW = (
    "idempotency_records (merchant_id, key, request_hash, status_code, response, created_at)"
    " SELECT :merchant_id, :key, :request_hash, :status_code, :response, :created_at")
PURCHASE_ROW = (
    "purchases (id, merchant_id, program_id, card_id, location_id, api_key_id, staff_id,"
    " external_id, amount, redeemed_points, redeemed_value, amount_paid, earn_percent,"
    " earned_points, bonus_points, stamps_added, rewards_redeemed, refunded_amount,"
    " refunded_paid, created_at) SELECT :purchase_id, :merchant_id, :program_id, :card_id,"
    " CAST(:location_id AS integer), CAST(:api_key_id AS integer),"
    " CAST(:staff_id AS integer), :external_id, :amount,"
    " :redeemed_points, :redeemed_value, :amount_paid, :earn_percent, :earned_points,"
    " :bonus_points, :stamps_added, :rewards_redeemed, 0, 0, :created_at")
AUDIT_ROW = (
    "audit_records (merchant_id, action, api_key_id, staff_id, location_id, card_id,"
    " purchase_id, detail, created_at) SELECT :merchant_id, 'purchase',"
    " CAST(:api_key_id AS integer), CAST(:staff_id AS integer),"
    " CAST(:location_id AS integer), :card_id, :purchase_id, :detail, :created_at")
_ENTRY_ROW = (
    "ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, purchase_id,"
    " location_id, api_key_id, staff_id, reason, offer_id, created_at) SELECT :merchant_id,"
    " :card_id, {kind}, {points}, {stamps}, {rewards}, :purchase_id,"
    " CAST(:location_id AS integer), CAST(:api_key_id AS integer),"
    " CAST(:staff_id AS integer), {reason}, {offer_id}, :created_at")
ENTRY_ROW = _ENTRY_ROW.format(kind=":kind", points=":points", stamps=":stamps",
                              rewards=":rewards", reason=":reason",
                              offer_id="CAST(:offer_id AS integer)")
# PostgreSQL: all the purchase's entries at once, from :entries, a JSON array of objects.
ENTRIES_ROWS = _ENTRY_ROW.format(
    kind="kind", points="points", stamps="stamps", rewards="rewards", reason="reason",
    offer_id="offer_id"
) + (" FROM card, json_to_recordset(:entries) AS entry (kind varchar, points bigint,"
     " stamps integer, rewards integer, reason text, offer_id integer)")

_EACH_FROM_THE_UPDATE = [f"{row} FROM card" for row in (
    RECORD_ROW, PURCHASE_ROW, OUTBOX_ROW, AUDIT_ROW)] + [ENTRIES_ROWS, WEBHOOK_ROWS]


def _write_purchase(*, notify: bool, coupon: bool) -> SQL:
    written = _EACH_FROM_THE_UPDATE + ([f"{COUPON_ROW} FROM card"] if coupon else [])
    return SQL(
        "WITH card AS (" + UPDATE_CARD + " AND CAST(xmin AS text) = :card_version RETURNING"
        " id), " + ", ".join(f"row_{number} AS (INSERT INTO {row})"
                             for number, row in enumerate(written))
        + " SELECT " + (NOTIFY_EXPRESSION if notify else "1") + " FROM card")


# By (with NOTIFY or not: ``app.outbox.wakeups.Wakeups.notify_due``, using a coupon or
# not: ``app.ledger.purchase_offers``).
WRITE_PURCHASE = {(notify, coupon): _write_purchase(notify=notify, coupon=coupon)
                  for notify in (True, False) for coupon in (True, False)}
# SQLite: one statement each.
INSERT_RECORD, INSERT_PURCHASE, INSERT_ENTRY, INSERT_OUTBOX, INSERT_AUDIT = (
    SQL("INSERT INTO " + row) for row in (
        RECORD_ROW, PURCHASE_ROW, ENTRY_ROW, OUTBOX_ROW, AUDIT_ROW))
SQLITE_UPDATE_CARD = SQL(UPDATE_CARD)
INSERT_WEBHOOK = SQL("INSERT INTO " + WEBHOOK_ROW)
INSERT_COUPON = SQL("INSERT INTO " + COUPON_ROW)


@dataclass(frozen=True)
class Read:
    """``READ_PURCHASE``'s row, by name; the key's columns are for the caller to check."""

    key: tuple[Any, ...] | None  # ``KEY_COLUMNS``; None: no key has the prefix, or none
    # was presented (``SignedIn``)
    card: PurchaseCardRow | None  # None: no card of the key's merchant has this number
    card_version: str | None  # PostgreSQL: the card row's xmin
    purchase_id: int | None  # None for a key presented with another secret
    spend_12_months: int
    purchase_counts: dict[str, int]  # by velocity window (``fraud.CARD_WINDOWS``)

    @classmethod
    def of(cls, raw: Raw, row: tuple[Any, ...] | None, *, keyed: bool = True) -> Read:
        if row is None:
            return cls(None, None, None, None, 0, {})
        # The key's columns go to the caller as they are (``KeyRow.of`` reads them by name).
        width = _KEY_WIDTH if keyed else 0
        named = dict(zip(_READ_NAMES, row[width:], strict=True))
        card = PurchaseCardRow(**{
            name: raw.read_time(named[name]) if name in _TIMES else named[name]
            for name in _CARD}) if named["id"] is not None else None
        return cls(
            key=row[:width] if keyed else None, card=card, card_version=named["card_version"],
            purchase_id=named["purchase_id"], spend_12_months=int(named["spend_12_months"]),
            purchase_counts={name: int(named[name]) for name, _, _ in CARD_WINDOWS})


def at_counter_values(at: AtCounter) -> dict[str, Any]:
    """The parameters that name who is at the counter in ``READ_PURCHASE`` and
    ``LOCK_CARD``."""
    if isinstance(at, SignedIn):
        return {"merchant_id": at.merchant_id}
    return {"prefix": at.prefix, "secret_hash": at.secret_hash}


def read_purchase(raw: Raw, *, at: AtCounter, number: str, now: datetime) -> Read:
    """``READ_PURCHASE``, as a transaction of its own unless one is open."""
    windows = {name: raw.time(now - window) for name, window, _ in CARD_WINDOWS}
    keyed = isinstance(at, PresentedKey)
    return Read.of(raw, raw.one_without_begin(READ_PURCHASE[raw.postgres, keyed], {
        **at_counter_values(at), "number": number, "since": raw.time(now - TIER_WINDOW),
        **windows}), keyed=keyed)


def find_record(raw: Raw, *, merchant_id: int, key: str) -> Record | None:
    """The key's idempotency record, or None."""
    row = raw.one_without_begin(FIND_RECORD, {"merchant_id": merchant_id, "key": key})
    if row is None:
        return None
    record = rows.read(Record, row)
    return Record(record.request_hash, record.status_code, raw.read_json(record.response))


@dataclass(frozen=True)
class Terms:
    """A program's earning rules and limits as of one version of the program row."""

    rules: Rules
    limits: Mapping[str, int | None]
    # Its published offers with a mechanic, not ended when the terms were read.
    offers: tuple[LiveOffer, ...] = ()


class ProgramTerms:
    """The programs' terms, built once per program version (``updated_at`` moves on every
    change) and kept by the running app (``app.runtime.Runtime.terms``), so that each app
    (each test) starts with none; at most ``MAX_CACHED_TERMS``."""

    def __init__(self) -> None:
        self._terms: dict[tuple[int, datetime], Terms] = {}
        self._lock = threading.Lock()

    def get(self, session: Callable[[], Session], program_id: int, updated_at: datetime
            ) -> Terms:
        key = (program_id, updated_at)
        with self._lock:
            terms = self._terms.get(key)
        if terms is None:
            program = session().get(Program, program_id)
            assert program is not None
            terms = Terms(rules=program_rules(program), limits=dict(program.limits or {}),
                          offers=live_offers(session(), program_id=program_id, now=utcnow()))
            with self._lock:
                if len(self._terms) >= MAX_CACHED_TERMS:
                    self._terms.clear()
                self._terms[key] = terms
        return terms


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry the purchase posts (``ledger_entries``' columns of the same names)."""

    kind: str
    points: int
    stamps: int
    rewards: int
    reason: str
    offer_id: int | None = None  # the offer whose mechanic gave it


def entries_of(outcome: PurchaseOutcome, rewards_redeemed: int) -> list[Entry]:
    """What the purchase posts, zero entries left out."""
    entries = [
        Entry("redeem", -outcome.redeemed_points, 0, -rewards_redeemed, ""),
        Entry("earn", outcome.earned, outcome.stamps_added, 0, ""),
    ]
    entries += [Entry("bonus", points, 0, 0, reason) for reason, points in outcome.bonuses]
    entries += [Entry("bonus", bonus.points, 0, 0, bonus.reason, bonus.offer_id)
                for bonus in outcome.offer_bonuses]
    if outcome.rewards_added:
        entries.append(Entry("bonus", 0, -outcome.stamps_converted, outcome.rewards_added,
                             "stamps completed"))
    return [entry for entry in entries if entry.points or entry.stamps or entry.rewards]


class Unwritten(Enum):
    """Why ``write_purchase`` wrote nothing."""

    CARD_CHANGED = "the card row moved since it was read: run again holding its lock"
    KEY_USED = "another request stored the key (meanwhile, or before): replay its answer"


def write_purchase(raw: Raw, values: dict[str, Any], entries: list[Entry],
                   events: list[dict[str, Any]], *, notify: bool) -> Unwritten | None:
    """Everything the purchase writes: None when written, else why not. PostgreSQL: one
    statement, which writes nothing if the card changed since it was read, and fails if a
    request stored the key; with ``notify`` it NOTIFYs the workers as it commits. SQLite:
    one statement each, under its lock, after looking for the key's record. ``events``
    are the webhook events (``app.ledger.events.purchase_events``), written for the
    merchant's endpoints that take them: none without one. A coupon's redemption is
    written when ``values["coupon_id"]`` names one."""
    posted = [{"kind": entry.kind, "points": entry.points, "stamps": entry.stamps,
               "rewards": entry.rewards, "reason": entry.reason, "offer_id": entry.offer_id}
              for entry in entries]
    coupon = values.get("coupon_id") is not None
    if not raw.postgres:  # in this order: each row's references are there before it
        if find_record(raw, merchant_id=values["merchant_id"], key=values["key"]):
            return Unwritten.KEY_USED
        raw.execute(INSERT_RECORD, values)
        raw.execute(INSERT_PURCHASE, values)
        raw.each(INSERT_ENTRY, [{**values, **row} for row in posted])
        for sql in (SQLITE_UPDATE_CARD, INSERT_OUTBOX, INSERT_AUDIT):
            raw.execute(sql, values)
        raw.each(INSERT_WEBHOOK, [{
            "merchant_id": values["merchant_id"], "card_id": values["card_id"],
            "created_at": values["created_at"], "event_id": event["id"],
            "event_type": event["event_type"], "event_payload": raw.json(event["payload"]),
        } for event in events])
        if coupon:
            raw.execute(INSERT_COUPON, values)
        return None
    try:
        written = raw.one_without_begin(WRITE_PURCHASE[notify, coupon],
                                        {**values, "entries": raw.json(posted),
                                         "webhook_events": raw.json(events)})
    except Exception as error:
        broken = raw.unique_violation(error)
        if broken == COUPON_CONSTRAINT:  # used meanwhile: the card moved (see above)
            return Unwritten.CARD_CHANGED
        if broken != KEY_CONSTRAINT:
            raise
        return Unwritten.KEY_USED
    return None if written is not None else Unwritten.CARD_CHANGED
