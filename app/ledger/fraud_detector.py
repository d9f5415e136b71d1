"""The fraud detector: the worker's periodic job that reads what is new since it last
looked and raises an alert, with its evidence, for each pattern it finds
(``app.ledger.fraud_patterns``, ``app.ledger.fraud_cards``).

Invariants:
- incremental: a cursor per table (``fraud_cursors``) says up to which id it has read;
  a round reads at most ``BATCH`` ids past it and moves it forward in the same commit as
  the alerts it raised (a crash re-reads the range; the dedupe keys make that harmless);
- it reads only rows older than ``SETTLE``, so that a row whose transaction commits a
  moment after a later id's is not passed over (one purchase, one enrolment is one short
  transaction; the margin is many times their longest);
- never the same alert twice: an alert's ``dedupe_key`` is unique per merchant, a round
  skips keys raised before, and on PostgreSQL the cursor's row lock keeps two workers off
  the same range (on SQLite the database's write lock does);
- it raises alerts only: nothing it finds blocks a card or refuses a purchase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.fraud_cards import enrolment_bursts, redeems_after_earning
from app.ledger.fraud_evidence import Suspicion
from app.ledger.fraud_patterns import repeated_scans, threshold_amounts
from app.ledger.models import Alert, FraudCursor, LedgerEntry, Purchase

BATCH = 5000
SETTLE = timedelta(seconds=30)
Pattern = Callable[[Session, int, int, datetime], list[Suspicion]]
Watched = type[Purchase] | type[LedgerEntry] | type[Card]


def _scans(session: Session, low: int, high: int, now: datetime) -> list[Suspicion]:
    return repeated_scans(session, low=low, high=high, now=now)


def _thresholds(session: Session, low: int, high: int, now: datetime) -> list[Suspicion]:
    return threshold_amounts(session, low=low, high=high, now=now)


def _redeems(session: Session, low: int, high: int, now: datetime) -> list[Suspicion]:
    return redeems_after_earning(session, low=low, high=high)


def _enrolments(session: Session, low: int, high: int, now: datetime) -> list[Suspicion]:
    return enrolment_bursts(session, low=low, high=high)


@dataclass(frozen=True)
class Source:
    """A table the detector reads, by its cursor's name, and the patterns it feeds."""

    name: str
    model: Watched
    patterns: tuple[Pattern, ...]


SOURCES = (
    Source("purchases", Purchase, (_scans, _thresholds)),
    Source("ledger_entries", LedgerEntry, (_redeems,)),
    Source("cards", Card, (_enrolments,)),
)


@dataclass(frozen=True)
class Detected:
    """One round: how many alerts it raised, and whether settled rows remain unread."""

    raised: int
    more: bool


def detect_fraud(session: Session, *, now: datetime | None = None, batch: int = BATCH
                 ) -> Detected:
    """One round over every source; commits once, at its end."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # The planner's estimates for a batch's IN lists run high, and it then compiled the
        # reads (JIT) for seconds to save milliseconds: measured by bench/fraud.py.
        session.execute(text("SET LOCAL jit = off"))
    raised, more = 0, False
    for source in SOURCES:
        cursor = _cursor(session, source.name, now)
        high, left = _settled_range(session, source.model, cursor.last_id, now, batch)
        if high > cursor.last_id:
            found = [suspicion for pattern in source.patterns
                     for suspicion in pattern(session, cursor.last_id, high, now)]
            raised += _raise(session, found, now)
            cursor.last_id, cursor.updated_at = high, now
        more = more or left
    session.commit()
    return Detected(raised=raised, more=more)


def _cursor(session: Session, name: str, now: datetime) -> FraudCursor:
    cursor = session.get(FraudCursor, name, with_for_update=True)
    if cursor is None:
        try:
            with session.begin_nested():
                session.add(FraudCursor(name=name, last_id=0, updated_at=now))
        except IntegrityError:
            pass  # another worker made it meanwhile
        cursor = session.get(FraudCursor, name, with_for_update=True, populate_existing=True)
    assert cursor is not None
    return cursor


def _settled_range(session: Session, model: Watched, low: int, now: datetime, batch: int
                   ) -> tuple[int, bool]:
    """The highest id up to which every row past ``low`` is settled (at most ``batch``
    ids on), and whether settled rows remain beyond it."""
    newest = session.scalar(select(func.max(model.id)).where(model.id > low))
    if newest is None:
        return low, False
    high = min(newest, low + batch)
    unsettled = session.scalar(select(func.min(model.id)).where(
        model.id > low, model.id <= high, model.created_at > now - SETTLE))
    if unsettled is not None:
        return unsettled - 1, False
    return high, high < newest


def _raise(session: Session, found: Sequence[Suspicion], now: datetime) -> int:
    if not found:
        return 0
    keys = {(suspicion.merchant_id, suspicion.dedupe_key) for suspicion in found}
    raised_before = session.execute(select(Alert.merchant_id, Alert.dedupe_key).where(
        tuple_(Alert.merchant_id, Alert.dedupe_key).in_(sorted(keys)))).all()
    seen = {(row.merchant_id, row.dedupe_key) for row in raised_before}
    raised = 0
    for suspicion in found:
        key = (suspicion.merchant_id, suspicion.dedupe_key)
        if key in seen:
            continue
        seen.add(key)
        cashier = suspicion.cashier
        session.add(Alert(
            merchant_id=suspicion.merchant_id, program_id=suspicion.program_id,
            card_id=suspicion.card_id, location_id=suspicion.location_id,
            api_key_id=cashier.api_key_id if cashier else None,
            staff_id=cashier.staff_id if cashier else None, kind=suspicion.kind,
            detail=suspicion.detail, evidence=suspicion.evidence,
            dedupe_key=suspicion.dedupe_key, created_at=now))
        raised += 1
    return raised
