"""What moved on each day of a period: purchases, refunds, points, enrolments, wallets.

Each reader is one ``GROUP BY`` day on the database and answers ``{day number: figures}``
for the days that had any. What a location filter counts: purchases made at it (refunds
with their purchase); ledger entries made at it, and an entry made nowhere (an expiry, a
welcome or an adjustment through the API) at its card's enrolment location; cards enrolled
at it, and their wallet events. ``Scope.locations`` empty means every location.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.analytics.days import Period, day_number, within
from app.analytics.models import WALLET_EVENT_KINDS, WALLETS, WalletEvent
from app.cards.models import Card
from app.ledger.models import LedgerEntry, Purchase, Refund

ISSUED_KINDS = ("earn", "bonus", "welcome")
_Statement = TypeVar("_Statement", bound=Select)  # type: ignore[type-arg]


@dataclass(frozen=True)
class Scope:
    """Whose figures: a program of a merchant, at some of its locations (none: all)."""

    merchant_id: int
    program_id: int
    locations: frozenset[int] = frozenset()

    def at(self, column: Any) -> ColumnElement[bool] | None:
        return column.in_(sorted(self.locations)) if self.locations else None


@dataclass
class Points:
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    net: int = 0  # every entry's points: the change of the balance outstanding


@dataclass
class Sales:
    purchases: int = 0
    gross: int = 0  # the purchases' amounts
    refunded: int = 0  # the refunds' amounts, on the day of the refund


@dataclass
class Wallets:
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {
        kind: dict.fromkeys(WALLETS, 0) for kind in WALLET_EVENT_KINDS})


def _where(statement: _Statement, *conditions: ColumnElement[bool] | None) -> _Statement:
    return statement.where(*[condition for condition in conditions if condition is not None])


def sales_by_day(session: Session, *, scope: Scope, period: Period) -> dict[int, Sales]:
    day = day_number(Purchase.created_at).label("day")
    bought = _where(select(day, func.count().label("n"), func.sum(Purchase.amount).label("gross"))
                    .where(Purchase.program_id == scope.program_id,
                           within(Purchase.created_at, period)),
                    scope.at(Purchase.location_id)).group_by(day)
    refund_day = day_number(Refund.created_at).label("day")
    refunded = _where(
        select(refund_day, func.sum(Refund.amount).label("amount"))
        .join(Purchase, Purchase.id == Refund.purchase_id)
        .where(Refund.merchant_id == scope.merchant_id, Purchase.program_id == scope.program_id,
               within(Refund.created_at, period)),
        scope.at(Purchase.location_id)).group_by(refund_day)
    days: dict[int, Sales] = defaultdict(Sales)
    for row in session.execute(bought):
        days[row.day].purchases, days[row.day].gross = int(row.n), int(row.gross or 0)
    for refund in session.execute(refunded):
        days[refund.day].refunded = int(refund.amount or 0)
    return dict(days)


def entries_by_day(session: Session, *, scope: Scope, period: Period) -> dict[int, Points]:
    """Points per day; ``net`` counts the entries of the scope's cards (enrolled at its
    locations), which is what moves their balance, the rest where the entries were made."""
    day = day_number(LedgerEntry.created_at).label("day")
    place = func.coalesce(LedgerEntry.location_id, Card.location_id)
    made_here = scope.at(place)
    cards_here = scope.at(Card.location_id)
    here = made_here if made_here is not None else true()

    def total(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, LedgerEntry.points), else_=0))

    kind, points = LedgerEntry.kind, LedgerEntry.points
    statement = _where(select(
        day,
        total(here & (kind.in_(ISSUED_KINDS) | ((kind == "reverse") & (points < 0))))
        .label("issued"),
        total(here & ((kind == "redeem") | ((kind == "reverse") & (points > 0))))
        .label("redeemed"),
        total(here & (kind == "expire")).label("expired"),
        total(here & (kind == "adjust")).label("adjusted"),
        total(cards_here if cards_here is not None else true()).label("net"),
    ).join(Card, Card.id == LedgerEntry.card_id).where(
        LedgerEntry.merchant_id == scope.merchant_id, Card.program_id == scope.program_id,
        within(LedgerEntry.created_at, period),
    ), _either(made_here, cards_here)).group_by(day)
    return {row.day: Points(issued=int(row.issued or 0), redeemed=-int(row.redeemed or 0),
                            expired=-int(row.expired or 0), adjusted=int(row.adjusted or 0),
                            net=int(row.net or 0))
            for row in session.execute(statement)}


def _either(first: ColumnElement[bool] | None, second: ColumnElement[bool] | None
            ) -> ColumnElement[bool] | None:
    return None if first is None or second is None else first | second


def enrolments_by_day(session: Session, *, scope: Scope, period: Period) -> dict[int, int]:
    day = day_number(Card.created_at).label("day")
    statement = _where(select(day, func.count().label("n")).where(
        Card.program_id == scope.program_id, within(Card.created_at, period)),
        scope.at(Card.location_id)).group_by(day)
    return {row.day: int(row.n) for row in session.execute(statement)}


def wallets_by_day(session: Session, *, scope: Scope, period: Period) -> dict[int, Wallets]:
    day = day_number(WalletEvent.created_at).label("day")
    statement = _where(
        select(day, WalletEvent.wallet, WalletEvent.kind, func.count().label("n"))
        .where(WalletEvent.program_id == scope.program_id,
               within(WalletEvent.created_at, period)),
        scope.at(WalletEvent.location_id),
    ).group_by(day, WalletEvent.wallet, WalletEvent.kind)
    days: dict[int, Wallets] = defaultdict(Wallets)
    for row in session.execute(statement):
        days[row.day].counts[row.kind][row.wallet] = int(row.n)
    return dict(days)


def outstanding_at(session: Session, *, scope: Scope, period: Period) -> int:
    """Points outstanding on the scope's cards at the end of the period: their balances
    now (a cache equal to their entries) less what entries since then changed."""
    now = _where(select(func.coalesce(func.sum(Card.balance), 0))
                 .where(Card.program_id == scope.program_id), scope.at(Card.location_id))
    since = _where(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                   .join(Card, Card.id == LedgerEntry.card_id)
                   .where(LedgerEntry.merchant_id == scope.merchant_id,
                          Card.program_id == scope.program_id,
                          LedgerEntry.created_at >= period.ends_at),
                   scope.at(Card.location_id))
    return int(session.scalar(now) or 0) - int(session.scalar(since) or 0)
