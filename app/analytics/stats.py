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
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.analytics.budget import reward_cost_share
from app.analytics.days import Period, number_of
from app.analytics.flows import Moved, Scope, flows_of
from app.analytics.reach import Reach, counted_cards
from app.analytics.segments import segment_counts
from app.analytics.visits import Visits, visit_figures
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
    # When the tiers and the reach were counted (the worker counts a large program's cards
    # every few minutes: ``app.analytics.rollup``); None: counted for this answer.
    cards_counted_at: datetime | None


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
    without_jit(session)
    flows = flows_of(session, scope=scope, period=period)
    moved, outstanding = Moved.total(list(flows.days.values())), flows.outstanding
    cards = counted_cards(session, scope=scope)
    return ProgramStats(
        start=start, end=end, enrollments=moved.enrollments,
        purchases=moved.purchases, turnover=moved.turnover, refunded=moved.refunded,
        average_check=_average(moved.gross, moved.purchases),
        points_issued=moved.issued, points_redeemed=moved.redeemed,
        points_expired=moved.expired, points_adjusted=moved.adjusted,
        points_outstanding=outstanding, liability=outstanding * program.point_value,
        reward_cost_share=reward_cost_share(moved.issued, program.point_value,
                                            moved.turnover),
        installs=dict(moved.wallets["installed"]), removals=dict(moved.wallets["removed"]),
        tiers=cards.tiers,
        segments=segment_counts(session, program_id=program.id, locations=scope.locations),
        visits=visit_figures(session, scope=scope, period=period),
        reach=cards.reach, cards_counted_at=cards.counted_at,
    )


def daily_figures(session: Session, *, program: Program, start: date, end: date,
                  location_id: int | None, locations: Collection[int] = ()
                  ) -> list[DayFigures]:
    """One row per day from ``start`` to ``end``, days without activity included."""
    scope, period = scope_of(program, location_id, locations), Period(start=start, end=end)
    without_jit(session)
    flows = flows_of(session, scope=scope, period=period)
    days, balance = flows.days, flows.outstanding
    rows: list[DayFigures] = []
    for day in reversed(period.days()):  # the balance at each day's end, walking back
        moved = days.get(number_of(day), Moved())
        rows.append(DayFigures(
            day=day, enrollments=moved.enrollments, purchases=moved.purchases,
            turnover=moved.turnover, average_check=_average(moved.gross, moved.purchases),
            points_issued=moved.issued, points_redeemed=moved.redeemed,
            points_expired=moved.expired, liability=balance * program.point_value,
            installs=dict(moved.wallets["installed"]),
            removals=dict(moved.wallets["removed"])))
        balance -= moved.net
    return rows[::-1]


def without_jit(session: Session) -> None:
    """PostgreSQL's JIT off for the rest of the transaction: the stats' statements are
    short, and where the planner's estimates ran high it compiled them for over a second
    (measured by bench/stats.py on a million cards)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _average(total: int, count: int) -> int:
    return round(total / count) if count else 0
