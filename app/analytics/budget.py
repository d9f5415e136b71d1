"""The reward budget: what rewards cost as a share of turnover, against the program's
``reward_budget_percent`` (3 unless the merchant says otherwise).

The cost is the value of the points issued (``app.analytics.stats``: earned, bonus and
welcome points less those refunds took back, at the program's ``point_value``) over the
turnover of the same days. ``budget_state`` reads the last ``BUDGET_DAYS`` days ending
today: the share the dashboard warns about and the automatic offers pause on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.analytics.days import Period
from app.analytics.flows import Moved, Scope, moved_by_day, rolled_through
from app.clock import utcnow
from app.merchants.models import Program
from app.merchants.service import list_programs

BUDGET_DAYS = 30
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class BudgetState:
    """Rewards' cost over the turnover of ``start``…``end`` against the budget; ``share``
    is None when nothing was sold (there is nothing to compare)."""

    start: date
    end: date
    share: float | None
    budget_percent: Decimal

    @property
    def budget_share(self) -> float:
        return float(self.budget_percent / HUNDRED)

    @property
    def over(self) -> bool:
        return self.share is not None and self.share > self.budget_share


def reward_cost_share(points_issued: int, point_value: int, turnover: int) -> float | None:
    """The value of the points issued over the turnover (None without turnover)."""
    return points_issued * point_value / turnover if turnover > 0 else None


def budget_state(session: Session, *, program: Program, today: date | None = None
                 ) -> BudgetState:
    """The program's reward cost over the last ``BUDGET_DAYS`` days, all locations."""
    end = today or utcnow().date()
    period = Period(start=end - timedelta(days=BUDGET_DAYS - 1), end=end)
    scope = Scope(merchant_id=program.merchant_id, program_id=program.id)
    days = moved_by_day(session, scope=scope, period=period,
                        through=rolled_through(session, program.id))
    moved = Moved.total(list(days.values()))
    return BudgetState(start=period.start, end=period.end,
                       share=reward_cost_share(moved.issued, program.point_value,
                                               moved.turnover),
                       budget_percent=Decimal(program.reward_budget_percent))


def over_budget(session: Session, program: Program, *, today: date | None = None) -> bool:
    """Whether rewards cost more than the budget lately: the automatic offers' pause
    (``app.automations`` takes it as ``over_budget(session, program)``)."""
    return budget_state(session, program=program, today=today).over


@dataclass(frozen=True)
class ProgramBudget:
    """A program and, for a reader of its figures, its reward budget lately."""

    program: Program
    budget: BudgetState | None


def programs_with_budgets(session: Session, *, merchant_id: int, read_budgets: bool
                          ) -> list[ProgramBudget]:
    """The merchant's programs (the dashboard's home), each with its budget state when
    ``read_budgets`` (a member who reads the whole program's figures)."""
    programs = list_programs(session, merchant_id=merchant_id)
    return [ProgramBudget(program=program,
                          budget=budget_state(session, program=program) if read_budgets
                          else None)
            for program in programs]
