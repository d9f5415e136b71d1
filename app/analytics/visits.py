"""How often customers come: visits, repeat customers, the days between visits, activity.

A visit is a day with a purchase on a card (two purchases on one day are one visit).
Within a period: visit frequency is visits per customer who came; the repeat share is the
share of those customers who came on two days or more; the days between visits are the
gaps between one customer's consecutive visit days in the period (a customer's first visit
in it has no gap), and their median is taken from their histogram (one row per length,
counted on the database). Active customers are the cards with a purchase in the 30 days
that end with the period.

Each visit is a row with the card's two previous visit days (``visit_rows``; at one
location, its previous ones there): in a period, a row whose previous day is before the
period is a customer's first visit in it, one whose previous day is in the period has a
gap, and one whose previous day is in it and the day before that is not is a second
visit: a repeat customer. The days rolled up come from ``visit_days`` (or
``location_visit_days``), which the worker fills with these same rows; the others from the
purchases. A principal limited to several locations reads them with a window over the
period's purchases (``visit_figures_of_purchases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, Table, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.analytics.days import Period, day_number, day_of, number_of, within
from app.analytics.flows import Scope, rolled_through, split
from app.analytics.models import LocationVisitDay, VisitCount, VisitDay
from app.ledger.models import Purchase

VISIT_DAYS: Table = VisitDay.__table__  # type: ignore[assignment]
LOCATION_VISIT_DAYS: Table = LocationVisitDay.__table__  # type: ignore[assignment]

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


def visit_rows(program_id: int, period: Period, *, by_location: bool,
               location_id: int | None = None) -> Select[Any]:
    """A row per card (and location, ``by_location``) and day with a purchase in the
    period: ``card_id``, ``location_id`` (or null), ``day``, ``prev_day`` and
    ``prev2_day``, the card's two previous visit days (there), from the period's purchases
    and, before it, from the rolled-up rows."""
    table = LOCATION_VISIT_DAYS if by_location else VISIT_DAYS
    place = Purchase.location_id if by_location else literal(None)
    days = select(Purchase.card_id, place.label("location_id"),
                  day_number(Purchase.created_at).label("day")).where(
        Purchase.program_id == program_id, within(Purchase.created_at, period))
    if by_location:
        days = days.where(Purchase.location_id.is_not(None))
    if location_id is not None:
        days = days.where(Purchase.location_id == location_id)
    grouped = [Purchase.card_id, day_number(Purchase.created_at)]
    days_q = days.group_by(*grouped, *([Purchase.location_id] if by_location else [])
                           ).subquery("days")
    card = [days_q.c.card_id, days_q.c.location_id] if by_location else [days_q.c.card_id]

    def lag(steps: int) -> Any:
        return func.lag(days_q.c.day, steps).over(partition_by=card, order_by=days_q.c.day)

    before = number_of(period.start)

    earlier = table.alias("earlier")
    same_card = [earlier.c.card_id == days_q.c.card_id, earlier.c.day < before]
    if by_location:
        same_card.append(earlier.c.location_id == days_q.c.location_id)
    last = select(func.max(earlier.c.day)).where(*same_card).scalar_subquery()
    ranked = select(days_q.c.card_id, days_q.c.location_id, days_q.c.day,
                    lag(1).label("l1"), lag(2).label("l2"),
                    case((lag(1).is_(None), last)).label("r1")).subquery("ranked")
    rolled = table.alias("rolled")
    matches = [rolled.c.card_id == ranked.c.card_id, rolled.c.day == ranked.c.r1]
    if by_location:
        matches.append(rolled.c.location_id == ranked.c.location_id)
    before_last = select(rolled.c.prev_day).where(*matches).scalar_subquery()
    # The second previous day: in the period; or, when only the previous one is, the last
    # rolled-up day; or, when neither is, the one before that.
    return select(
        ranked.c.card_id, ranked.c.location_id, ranked.c.day,
        func.coalesce(ranked.c.l1, ranked.c.r1).label("prev_day"),
        case((ranked.c.l2.is_not(None), ranked.c.l2),
             (ranked.c.l1.is_not(None), _last_before(table, ranked, before, by_location)),
             else_=before_last).label("prev2_day"))


def _last_before(table: Table, ranked: Any, before: int, by_location: bool) -> Any:
    """The card's last rolled-up visit day before ``before`` (a day number)."""
    earlier = table.alias("earlier2")
    matches = [earlier.c.card_id == ranked.c.card_id, earlier.c.day < before]
    if by_location:
        matches.append(earlier.c.location_id == ranked.c.location_id)
    return select(func.max(earlier.c.day)).where(*matches).scalar_subquery()


def visit_figures(session: Session, *, scope: Scope, period: Period) -> Visits:
    """The period's figures from its visit rows (rolled up, then live), in one pass; a
    period shorter than the 30 days active customers look at counts those apart."""
    if len(scope.locations) > 1:
        return visit_figures_of_purchases(session, scope=scope, period=period)
    through = rolled_through(session, scope.program_id)
    location = next(iter(scope.locations), None)
    counted = _count_visits(session, scope=scope, location_id=location, through=through,
                            period=period)
    month = Period(start=period.end - timedelta(days=ACTIVE_DAYS - 1), end=period.end)
    active = (counted.active if period.start <= month.start else _count_visits(
        session, scope=scope, location_id=location, through=through, period=month).active)
    return Visits(visits=counted.visits, customers=counted.customers,
                  repeat_customers=counted.repeat, median_days_between_visits=counted.median,
                  active_customers_30d=active)


@dataclass(frozen=True)
class _Counted:
    visits: int
    customers: int
    repeat: int
    median: float | None
    active: int


def _count_visits(session: Session, *, scope: Scope, location_id: int | None,
                  through: int | None, period: Period) -> _Counted:
    """The period's visits from rows ``(day, step, gap, n)``: the counts rolled up
    (``visit_counts``) and the live days' visit rows, each as a step-1 and a step-2 row.
    With ``s`` the period's first day, a visit whose previous one is more than
    ``day - s`` days before is a customer's first in the period, one whose previous is
    closer has a gap, and those whose second previous is before ``s``, less the first
    visits, are second visits: repeat customers."""
    by_location = location_id is not None
    parts: list[Select[Any]] = []
    cut = split(period, through)
    if cut.rolled is not None:
        place = (VisitCount.location_id == location_id if by_location
                 else VisitCount.location_id.is_(None))
        parts.append(select(VisitCount.day, VisitCount.step, VisitCount.gap,  # type: ignore[arg-type]
                            VisitCount.visits.label("n")).where(
            VisitCount.program_id == scope.program_id, place,
            VisitCount.day.between(number_of(cut.rolled.start), number_of(cut.rolled.end))))
    if cut.live is not None:
        live = visit_rows(scope.program_id, cut.live, by_location=by_location,
                          location_id=location_id).cte("live")
        one = literal(1, Integer)
        parts += [select(live.c.day, literal(step, Integer).label("step"),
                         (live.c.day - previous).label("gap"), one.label("n"))
                  for step, previous in ((1, live.c.prev_day), (2, live.c.prev2_day))]
    rows = union_all(*parts).subquery("visits")
    start = number_of(period.start)
    month_starts = number_of(period.end) - (ACTIVE_DAYS - 1)

    def before(first_day: int) -> Any:  # the previous visit counted is before first_day
        return rows.c.gap.is_(None) | (rows.c.gap > rows.c.day - first_day)

    first = rows.c.step == 1
    gap = case((first & (rows.c.gap <= rows.c.day - start), rows.c.gap)).label("gap")

    def total(condition: Any) -> Any:
        return func.sum(case((condition, rows.c.n), else_=0))

    histogram = session.execute(select(
        gap, total(first).label("visits"),
        total((rows.c.step == 2) & before(start)).label("second_before"),
        total(first & (rows.c.day >= month_starts) & before(month_starts)).label("active"),
    ).group_by(gap).order_by(gap)).all()
    gaps = [(int(row.gap), int(row.visits)) for row in histogram if row.gap is not None]
    customers = sum(int(row.visits or 0) for row in histogram if row.gap is None)
    return _Counted(visits=sum(int(row.visits or 0) for row in histogram),
                    customers=customers,
                    repeat=sum(int(row.second_before or 0) for row in histogram) - customers,
                    median=median_of(gaps),
                    active=sum(int(row.active or 0) for row in histogram))


def visit_figures_of_purchases(session: Session, *, scope: Scope, period: Period) -> Visits:
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
