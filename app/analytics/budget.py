"""Whether a program's rewards cost more than its budget: the predicate that pauses
automatic offers (``app.automations`` takes it as ``over_budget(session, program)``).

The cost is the reward cost share of the stats (points issued at ``point_value`` over
turnover, ``app.analytics.stats``) over the last ``BUDGET_DAYS`` days, everywhere; the
budget a percentage of turnover (3 % by default, the practice merchants follow). A
program without turnover in those days is not over budget (nothing to measure against).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.analytics.days import Period
from app.analytics.flows import entries_by_day, sales_by_day
from app.analytics.stats import scope_of
from app.clock import utcnow
from app.merchants.models import Program

DEFAULT_REWARD_BUDGET_PERCENT = 3.0
BUDGET_DAYS = 30


def reward_cost_share(session: Session, *, program: Program, today: date) -> float | None:
    """Points issued at ``point_value`` over turnover in the ``BUDGET_DAYS`` days that end
    with ``today``; None without turnover."""
    scope = scope_of(program, None)
    period = Period(start=today - timedelta(days=BUDGET_DAYS - 1), end=today)
    sales = sales_by_day(session, scope=scope, period=period).values()
    turnover = sum(day.gross - day.refunded for day in sales)
    issued = sum(day.issued for day in entries_by_day(session, scope=scope,
                                                       period=period).values())
    return issued * program.point_value / turnover if turnover > 0 else None


def over_budget(session: Session, program: Program, *, today: date | None = None,
                budget_percent: float = DEFAULT_REWARD_BUDGET_PERCENT) -> bool:
    """True when the last ``BUDGET_DAYS`` days' rewards cost more than ``budget_percent``
    of their turnover."""
    share = reward_cost_share(session, program=program, today=today or utcnow().date())
    return share is not None and share * 100 > budget_percent
