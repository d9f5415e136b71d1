"""What moved on each day of a period: purchases, refunds, points, enrolments, wallets.

Each figure is defined once, by a source: a ``SELECT`` of the live tables grouped by
location and day (``SOURCES``). The worker writes what the sources give for the days that
are over into ``stats_days`` (``app.analytics.rollup``); ``moved_by_day`` reads a period as
one statement: the summary's rows for the days rolled up, the sources themselves for the
rest (today, and every day of a program not rolled up yet), summed per day.

What a location filter counts (the location a source groups by): purchases made at it
(refunds with their purchase); ledger entries made at it, and an entry made nowhere (an
expiry, a welcome or an adjustment through the API) at its card's enrolment location;
the change of the balance outstanding (``net``), cards enrolled and their wallet events at
the card's location. ``Scope.locations`` empty means every location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.analytics.days import EPOCH, Period, day_number, day_of, number_of, within
from app.analytics.models import (
    APPLE,
    GOOGLE,
    INSTALLED,
    REMOVED,
    WALLET_COLUMNS,
    WALLET_EVENT_KINDS,
    WALLETS,
    StatsDay,
    StatsRollup,
    WalletEvent,
)
from app.cards.models import Card
from app.ledger.models import LedgerEntry, Purchase, Refund

ISSUED_KINDS = ("earn", "bonus", "welcome")
# The figures of a day, as ``stats_days`` names its columns.
FIGURES = ("enrollments", "purchases", "gross", "refunded", "issued", "redeemed", "expired",
           "adjusted", "net", *WALLET_COLUMNS.values())


@dataclass(frozen=True)
class Scope:
    """Whose figures: a program of a merchant, at some of its locations (none: all)."""

    merchant_id: int
    program_id: int
    locations: frozenset[int] = frozenset()

    def at(self, column: Any) -> ColumnElement[bool] | None:
        return column.in_(sorted(self.locations)) if self.locations else None


@dataclass(frozen=True)
class Moved:
    """A day's figures (or a period's, added up). ``gross``: the purchases' amounts;
    ``refunded``: the refunds' amounts, on the day of the refund; points as positive
    numbers but ``adjusted`` (either sign) and ``net`` (every entry's points on the scope's
    cards: the change of their balance outstanding)."""

    enrollments: int = 0
    purchases: int = 0
    gross: int = 0
    refunded: int = 0
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    net: int = 0
    wallets: dict[str, dict[str, int]] = field(default_factory=lambda: {
        kind: dict.fromkeys(WALLETS, 0) for kind in WALLET_EVENT_KINDS})

    @property
    def turnover(self) -> int:
        return self.gross - self.refunded

    @classmethod
    def from_row(cls, row: Any) -> Moved:
        wallets = {kind: {wallet: int(getattr(row, WALLET_COLUMNS[kind, wallet]) or 0)
                          for wallet in WALLETS} for kind in WALLET_EVENT_KINDS}
        return cls(**{name: int(getattr(row, name) or 0) for name in FIGURES
                      if name not in WALLET_COLUMNS.values()}, wallets=wallets)

    @classmethod
    def total(cls, days: list[Moved]) -> Moved:
        wallets = {kind: {wallet: sum(day.wallets[kind][wallet] for day in days)
                          for wallet in WALLETS} for kind in WALLET_EVENT_KINDS}
        return cls(**{name: sum(getattr(day, name) for day in days) for name in FIGURES
                      if name not in WALLET_COLUMNS.values()}, wallets=wallets)


def _zero() -> Any:
    return literal(0, Integer)


def _row(location: Any, day: Any, **figures: Any) -> list[Any]:
    """The columns of a source in ``stats_days``' order, 0 for the figures it has not."""
    return [location.label("location_id"), day.label("day"),
            *(figures.get(name, _zero()).label(name) for name in FIGURES)]


def sales_rows(scope: Scope, period: Period) -> Select[Any]:
    day = day_number(Purchase.created_at)
    return select(*_row(Purchase.location_id, day, purchases=func.count(),
                        gross=func.sum(Purchase.amount))).where(
        Purchase.program_id == scope.program_id, within(Purchase.created_at, period),
    ).group_by(Purchase.location_id, day)


def refund_rows(scope: Scope, period: Period) -> Select[Any]:
    day = day_number(Refund.created_at)
    return select(*_row(Purchase.location_id, day, refunded=func.sum(Refund.amount))).join(
        Purchase, Purchase.id == Refund.purchase_id,
    ).where(Refund.merchant_id == scope.merchant_id, Purchase.program_id == scope.program_id,
            within(Refund.created_at, period)).group_by(Purchase.location_id, day)


def _entries(scope: Scope, period: Period, *columns: Any) -> Select[Any]:
    return select(*columns).join(Card, Card.id == LedgerEntry.card_id).where(
        LedgerEntry.merchant_id == scope.merchant_id, Card.program_id == scope.program_id,
        within(LedgerEntry.created_at, period))


def points_rows(scope: Scope, period: Period) -> Select[Any]:
    """Points where the entries were made (or at their card's location)."""
    day, place = day_number(LedgerEntry.created_at), func.coalesce(LedgerEntry.location_id,
                                                                   Card.location_id)
    kind, points = LedgerEntry.kind, LedgerEntry.points

    def total(condition: ColumnElement[bool], sign: int = 1) -> Any:
        return func.sum(case((condition, sign * points), else_=0))

    return _entries(scope, period, *_row(
        place, day,
        issued=total(kind.in_(ISSUED_KINDS) | ((kind == "reverse") & (points < 0))),
        redeemed=total((kind == "redeem") | ((kind == "reverse") & (points > 0)), -1),
        expired=total(kind == "expire", -1), adjusted=total(kind == "adjust"),
    )).group_by(place, day)


def net_rows(scope: Scope, period: Period) -> Select[Any]:
    """Every entry's points, at its card's location: what moves the balances there."""
    day = day_number(LedgerEntry.created_at)
    return _entries(scope, period, *_row(Card.location_id, day,
                                         net=func.sum(LedgerEntry.points))
                    ).group_by(Card.location_id, day)


def enrolment_rows(scope: Scope, period: Period) -> Select[Any]:
    day = day_number(Card.created_at)
    return select(*_row(Card.location_id, day, enrollments=func.count())).where(
        Card.program_id == scope.program_id, within(Card.created_at, period),
    ).group_by(Card.location_id, day)


def wallet_rows(scope: Scope, period: Period) -> Select[Any]:
    day = day_number(WalletEvent.created_at)

    def count(kind: str, wallet: str) -> Any:
        return func.sum(case(((WalletEvent.kind == kind) & (WalletEvent.wallet == wallet), 1),
                             else_=0))

    return select(*_row(WalletEvent.location_id, day, **{
        WALLET_COLUMNS[kind, wallet]: count(kind, wallet)
        for kind in (INSTALLED, REMOVED) for wallet in (APPLE, GOOGLE)})).where(
        WalletEvent.program_id == scope.program_id, within(WalletEvent.created_at, period),
    ).group_by(WalletEvent.location_id, day)


SOURCES = (sales_rows, refund_rows, points_rows, net_rows, enrolment_rows, wallet_rows)


def rolled_through(session: Session, program_id: int) -> int | None:
    """The last day (number) of the program's summaries, None when there are none."""
    return session.scalar(select(StatsRollup.through_day).where(
        StatsRollup.program_id == program_id))


@dataclass(frozen=True)
class Split:
    """A period cut where the summaries end: ``rolled`` from them, ``live`` from the
    tables (either may be None)."""

    rolled: Period | None
    live: Period | None


def split(period: Period, through: int | None) -> Split:
    if through is None or number_of(period.start) > through:
        return Split(rolled=None, live=period)
    if number_of(period.end) <= through:
        return Split(rolled=period, live=None)
    return Split(rolled=Period(start=period.start, end=day_of(through)),
                 live=Period(start=day_of(through + 1), end=period.end))


def moved_rows(scope: Scope, period: Split) -> Any:
    """Rows of ``stats_days``' shape for the period: summarised and live."""
    parts: list[Select[Any]] = []
    if period.rolled is not None:
        parts.append(select(StatsDay.location_id, StatsDay.day,
                            *(getattr(StatsDay, name) for name in FIGURES)).where(
            StatsDay.program_id == scope.program_id,
            StatsDay.day.between(number_of(period.rolled.start),
                                 number_of(period.rolled.end))))
    if period.live is not None:
        parts += [source(scope, period.live) for source in SOURCES]
    return union_all(*parts).subquery("moved")


def moved_by_day(session: Session, *, scope: Scope, period: Period,
                 through: int | None) -> dict[int, Moved]:
    """``{day number: figures}`` for the days of the period that had any, from the
    summaries up to ``through`` (``rolled_through``) and the live tables after it."""
    rows = moved_rows(scope, split(period, through))
    statement = select(rows.c.day, *(func.sum(rows.c[name]).label(name) for name in FIGURES))
    if scope.locations:
        statement = statement.where(rows.c.location_id.in_(sorted(scope.locations)))
    return {int(row.day): Moved.from_row(row)
            for row in session.execute(statement.group_by(rows.c.day))}


@dataclass(frozen=True)
class Flows:
    """A period's days (``{day number: figures}``, those with any) and the points
    outstanding on the scope's cards at its end."""

    days: dict[int, Moved]
    outstanding: int


def flows_of(session: Session, *, scope: Scope, period: Period) -> Flows:
    """With summaries, one statement: every day until the period's end, whose changes
    add up to the points outstanding then. Without (a program not rolled up yet): the
    period's days, and the cards' balances now (a cache equal to their entries) less what
    entries changed since the period's end."""
    through = rolled_through(session, scope.program_id)
    if through is not None:
        days = moved_by_day(session, scope=scope, period=Period(start=EPOCH, end=period.end),
                            through=through)
        first = number_of(period.start)
        return Flows(days={day: moved for day, moved in days.items() if day >= first},
                     outstanding=sum(moved.net for moved in days.values()))
    now = select(func.coalesce(func.sum(Card.balance), 0)).where(
        Card.program_id == scope.program_id)
    since = select(func.coalesce(func.sum(LedgerEntry.points), 0)).join(
        Card, Card.id == LedgerEntry.card_id).where(
        LedgerEntry.merchant_id == scope.merchant_id, Card.program_id == scope.program_id,
        LedgerEntry.created_at >= period.ends_at)
    if scope.locations:
        now = now.where(Card.location_id.in_(sorted(scope.locations)))
        since = since.where(Card.location_id.in_(sorted(scope.locations)))
    return Flows(days=moved_by_day(session, scope=scope, period=period, through=None),
                 outstanding=int(session.scalar(now) or 0) - int(session.scalar(since) or 0))
