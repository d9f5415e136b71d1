"""What the analytics page shows of a program over a period: the stats, one row per day,
the budget line and the segments, read in one call (the page's view asks for no more).

A principal limited to locations reads the figures of those only (as the stats API does);
the budget line is the program's over the period chosen, at the locations chosen.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from app.analytics.budget import BudgetState
from app.analytics.stats import DayFigures, ProgramStats, daily_figures, program_stats
from app.merchants.models import Program


@dataclass(frozen=True)
class ProgramReport:
    program: Program
    stats: ProgramStats
    days: list[DayFigures]
    budget: BudgetState
    segments: dict[str, int]


def program_report(session: Session, *, program: Program, start: date, end: date,
                   location_id: int | None, locations: Collection[int] = ()
                   ) -> ProgramReport:
    stats = program_stats(session, program=program, start=start, end=end,
                          location_id=location_id, locations=locations)
    days = daily_figures(session, program=program, start=start, end=end,
                         location_id=location_id, locations=locations)
    budget = BudgetState(start=start, end=end, share=stats.reward_cost_share,
                         budget_percent=Decimal(program.reward_budget_percent))
    return ProgramReport(program=program, stats=stats, days=days, budget=budget,
                         segments={name: count for name, count in stats.segments.items()
                                   if count})
