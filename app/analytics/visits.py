"""How often customers come: visits, repeat customers, the days between visits, activity.

A visit is a day with a purchase on a card (two purchases on one day are one visit).
Within a period: visit frequency is visits per customer who came; the repeat share is the
share of those customers who came on two days or more; the days between visits are the
gaps between one customer's consecutive visit days in the period (a customer's first visit
in it has no gap), and their median is taken from their histogram (one row per length,
counted on the database). Active customers are the cards with a purchase in the 30 days
that end with the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.analytics.days import Period, day_number, day_of, number_of, within
from app.analytics.flows import Scope
from app.ledger.models import Purchase

ACTIVE_DAYS = 30


@dataclass(frozen=True)
class Visits:
    visits: int
    customers: int
    repeat_customers: int
    median_days_between_visits: float | None
    active_customers_30d: int

    @property
    def frequency(self) -> float | None:
        return self.visits / self.customers if self.customers else None

    @property
    def repeat_share(self) -> float | None:
        return self.repeat_customers / self.customers if self.customers else None


def _purchases(scope: Scope, period: Period) -> Select[int, int]:
    statement = select(Purchase.card_id, day_number(Purchase.created_at).label("day")).where(
        Purchase.program_id == scope.program_id, within(Purchase.created_at, period))
    if scope.locations:
        statement = statement.where(Purchase.location_id.in_(sorted(scope.locations)))
    return statement


def visit_figures(session: Session, *, scope: Scope, period: Period) -> Visits:
    """One pass over the period's visit days (a card's days with a purchase): each day
    with the gap since the card's previous one in the period and its place among them,
    counted per gap length. A card's first day has no gap (so the customers are the rows
    without one), its second makes it a repeat customer; and when the period holds the
    30 days that end with it, a card is active if its last visit before them is older."""
    days = _purchases(scope, period).group_by(Purchase.card_id, "day").subquery()
    previous = func.lag(days.c.day).over(partition_by=days.c.card_id, order_by=days.c.day)
    place = func.row_number().over(partition_by=days.c.card_id, order_by=days.c.day)
    visits = select(days.c.day, (days.c.day - previous).label("gap"),
                    place.label("place")).subquery()
    month_starts = number_of(period.end) - (ACTIVE_DAYS - 1)
    covers_month = period.start <= day_of(month_starts)
    came_this_month = (visits.c.day >= month_starts) & (
        visits.c.gap.is_(None) | (visits.c.day - visits.c.gap < month_starts))
    histogram = session.execute(select(
        visits.c.gap, func.count().label("n"),
        func.sum(case((visits.c.place == 2, 1), else_=0)).label("repeat"),
        func.sum(case((came_this_month, 1), else_=0)).label("active"),
    ).group_by(visits.c.gap).order_by(visits.c.gap)).all()
    gaps = [(int(row.gap), int(row.n)) for row in histogram if row.gap is not None]
    return Visits(
        visits=sum(int(row.n) for row in histogram),
        customers=sum(int(row.n) for row in histogram if row.gap is None),
        repeat_customers=sum(int(row.repeat or 0) for row in histogram),
        median_days_between_visits=median_of(gaps),
        active_customers_30d=(sum(int(row.active or 0) for row in histogram) if covers_month
                              else active_customers(session, scope=scope, period=period)))


def median_of(histogram: list[tuple[int, int]]) -> float | None:
    """The median of values given as ``(value, count)`` in ascending order."""
    total = sum(count for _, count in histogram)
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle one, or the middle two
    found: list[int] = []
    seen = 0
    for value, count in histogram:
        found += [value for position in wanted if seen <= position < seen + count]
        seen += count
    return sum(found) / len(found)


def active_customers(session: Session, *, scope: Scope, period: Period) -> int:
    last_days = Period(start=period.end - timedelta(days=ACTIVE_DAYS - 1), end=period.end)
    cards = _purchases(scope, last_days).with_only_columns(
        func.count(func.distinct(Purchase.card_id)))
    return int(session.scalar(cards) or 0)
