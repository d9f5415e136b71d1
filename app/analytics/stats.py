"""A program's figures over a period: ``program_stats`` (the API's answer) and
``daily_figures`` (one row per day, for the analytics page's charts and CSV).

Definitions (the README's "Stats" section says the same):
- turnover: the purchases' amounts less the refunds made in the period; the average check
  is the purchases' amounts over their number (a receipt's size, before refunds);
- points issued: earned, bonus and welcome points less the earned points a refund took
  back; redeemed: points spent less the spent points a refund returned; expired: points
  that expired; adjustments by hand are reported apart (``points_adjusted``);
- reward cost share: points issued at the program's ``point_value``, over turnover (None
  when there was no turnover);
- points outstanding and liability (outstanding at ``point_value``): at the end of the
  period, on the cards the scope covers;
- tiers, segments (as last computed) and reach: the cards now.
Every figure is an SQL aggregate (``app.analytics.flows``, ``visits``, ``reach``); what
Python adds up is one row per day.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analytics.budget import reward_cost_share
from app.analytics.days import Period, number_of
from app.analytics.flows import (
    Points,
    Sales,
    Scope,
    Wallets,
    enrolments_by_day,
    entries_by_day,
    outstanding_at,
    sales_by_day,
    wallets_by_day,
)
from app.analytics.models import WALLETS
from app.analytics.reach import Reach, reach
from app.analytics.segments import segment_counts
from app.analytics.visits import Visits, visit_figures
from app.cards.models import Card, CardStatus
from app.merchants.models import Program


@dataclass(frozen=True)
class ProgramStats:
    start: date
    end: date
    enrollments: int
    purchases: int
    turnover: int
    refunded: int
    average_check: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_adjusted: int
    points_outstanding: int
    liability: int
    reward_cost_share: float | None
    installs: dict[str, int]
    removals: dict[str, int]
    tiers: dict[str, int]
    segments: dict[str, int]
    visits: Visits
    reach: Reach


@dataclass(frozen=True)
class DayFigures:
    day: date
    enrollments: int
    purchases: int
    turnover: int
    average_check: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    liability: int
    installs: dict[str, int]
    removals: dict[str, int]


def scope_of(program: Program, location_id: int | None,
             locations: Collection[int] = ()) -> Scope:
    """The program at ``location_id``, or at ``locations`` (a principal limited to them)."""
    chosen = frozenset((location_id,)) if location_id is not None else frozenset(locations)
    return Scope(merchant_id=program.merchant_id, program_id=program.id, locations=chosen)


def program_stats(session: Session, *, program: Program, start: date, end: date,
                  location_id: int | None, locations: Collection[int] = ()) -> ProgramStats:
    """The program's figures from ``start`` to ``end`` (UTC days, both included)."""
    scope, period = scope_of(program, location_id, locations), Period(start=start, end=end)
    sales = _sum_sales(sales_by_day(session, scope=scope, period=period).values())
    points = _sum_points(entries_by_day(session, scope=scope, period=period).values())
    wallets = _sum_wallets(wallets_by_day(session, scope=scope, period=period).values())
    outstanding = outstanding_at(session, scope=scope, period=period)
    turnover = sales.gross - sales.refunded
    return ProgramStats(
        start=start, end=end,
        enrollments=sum(enrolments_by_day(session, scope=scope, period=period).values()),
        purchases=sales.purchases, turnover=turnover, refunded=sales.refunded,
        average_check=_average(sales.gross, sales.purchases),
        points_issued=points.issued, points_redeemed=points.redeemed,
        points_expired=points.expired, points_adjusted=points.adjusted,
        points_outstanding=outstanding, liability=outstanding * program.point_value,
        reward_cost_share=reward_cost_share(points.issued, program.point_value, turnover),
        installs=dict(wallets.counts["installed"]), removals=dict(wallets.counts["removed"]),
        tiers=tier_counts(session, scope=scope),
        segments=segment_counts(session, program_id=program.id, locations=scope.locations),
        visits=visit_figures(session, scope=scope, period=period),
        reach=reach(session, scope=scope),
    )


def daily_figures(session: Session, *, program: Program, start: date, end: date,
                  location_id: int | None, locations: Collection[int] = ()
                  ) -> list[DayFigures]:
    """One row per day from ``start`` to ``end``, days without activity included."""
    scope, period = scope_of(program, location_id, locations), Period(start=start, end=end)
    sales = sales_by_day(session, scope=scope, period=period)
    points = entries_by_day(session, scope=scope, period=period)
    wallets = wallets_by_day(session, scope=scope, period=period)
    enrolments = enrolments_by_day(session, scope=scope, period=period)
    balance = outstanding_at(session, scope=scope, period=period)
    rows: list[DayFigures] = []
    for day in reversed(period.days()):  # the balance at each day's end, walking back
        number = number_of(day)
        sold, moved = sales.get(number, Sales()), points.get(number, Points())
        events = wallets.get(number, Wallets()).counts
        rows.append(DayFigures(
            day=day, enrollments=enrolments.get(number, 0), purchases=sold.purchases,
            turnover=sold.gross - sold.refunded,
            average_check=_average(sold.gross, sold.purchases),
            points_issued=moved.issued, points_redeemed=moved.redeemed,
            points_expired=moved.expired, liability=balance * program.point_value,
            installs=dict(events["installed"]), removals=dict(events["removed"])))
        balance -= moved.net
    return rows[::-1]


def tier_counts(session: Session, *, scope: Scope) -> dict[str, int]:
    """Cards per tier now (cards without a tier are not counted; deleted cards neither)."""
    statement = select(Card.tier, func.count().label("n")).where(
        Card.program_id == scope.program_id, Card.tier.is_not(None),
        Card.status != CardStatus.DELETED.value).group_by(Card.tier)
    if scope.locations:
        statement = statement.where(Card.location_id.in_(sorted(scope.locations)))
    return {str(row.tier): int(row.n) for row in session.execute(statement)}


def _average(total: int, count: int) -> int:
    return round(total / count) if count else 0


def _sum_sales(days: Collection[Sales]) -> Sales:
    return Sales(purchases=sum(d.purchases for d in days), gross=sum(d.gross for d in days),
                 refunded=sum(d.refunded for d in days))


def _sum_points(days: Collection[Points]) -> Points:
    return Points(issued=sum(d.issued for d in days), redeemed=sum(d.redeemed for d in days),
                  expired=sum(d.expired for d in days), adjusted=sum(d.adjusted for d in days),
                  net=sum(d.net for d in days))


def _sum_wallets(days: Collection[Wallets]) -> Wallets:
    total = Wallets()
    for day in days:
        for kind, counts in day.counts.items():
            for wallet in WALLETS:
                total.counts[kind][wallet] += counts[wallet]
    return total


