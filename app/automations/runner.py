"""One run of every program's automatic offers, as the worker makes it
(``app.delivery.automations``) and tests make it with a clock of their own.

Invariants: ``now`` is the only clock (injected); a program whose merchant asked to pause
while the reward budget is exceeded (``AutomationSettings.pause_over_budget``) sends
nothing while ``over_budget`` says so; each send is its own transaction
(``app.automations.sending.send``), so a run that stops half way loses nothing and a rerun
sends nothing twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automations.models import AutomationRule, AutomationSettings
from app.automations.occasions import due_occasions
from app.automations.schemas import VALID_DAYS
from app.automations.sending import Outcome, Sender, send
from app.automations.service import DEFAULT_WEEKLY_CAP
from app.merchants.models import Program

OverBudget = Callable[[Session, Program], bool]
"""Whether the program's reward cost is over its budget now (the stats package's)."""


def never_over_budget(session: Session, program: Program) -> bool:
    """The stand-in until the reward budget is measured: never over."""
    return False


@dataclass(frozen=True)
class RunSummary:
    sent: int = 0
    held_out: int = 0
    capped: int = 0
    already: int = 0
    paused_programs: int = 0


def run_automations(session: Session, *, now: datetime, over_budget: OverBudget
                    ) -> RunSummary:
    """Act on every occasion due now, for every program with a rule switched on."""
    program_ids = list(session.scalars(select(AutomationRule.program_id)
                                       .where(AutomationRule.enabled.is_(True))
                                       .distinct().order_by(AutomationRule.program_id)))
    tally: Counter[Outcome] = Counter()
    paused = 0
    for program_id in program_ids:
        program = session.get(Program, program_id)
        assert program is not None  # a rule's program is never deleted
        settings = session.get(AutomationSettings, program_id)
        if (settings is None or settings.pause_over_budget) and over_budget(session, program):
            paused += 1
            continue
        weekly_cap = settings.weekly_cap if settings else DEFAULT_WEEKLY_CAP
        tally += _run_program(session, program, weekly_cap, now)
    session.rollback()  # nothing is left open between runs
    return RunSummary(sent=tally[Outcome.SENT], held_out=tally[Outcome.HELD_OUT],
                      capped=tally[Outcome.CAPPED], already=tally[Outcome.ALREADY],
                      paused_programs=paused)


def _run_program(session: Session, program: Program, weekly_cap: int, now: datetime
                 ) -> Counter[Outcome]:
    tally: Counter[Outcome] = Counter()
    rules = session.scalars(select(AutomationRule).where(
        AutomationRule.program_id == program.id, AutomationRule.enabled.is_(True))
        .order_by(AutomationRule.id)).all()
    for rule in rules:
        sender = Sender(rule_id=rule.id, offer_id=rule.offer_id,
                        merchant_id=rule.merchant_id, holdout_percent=rule.holdout_percent,
                        valid_days=int(rule.settings.get("valid_days", VALID_DAYS)),
                        weekly_cap=weekly_cap)
        occasions = due_occasions(session, rule=rule, program=program, now=now)
        session.rollback()  # the reads end here; each send is its own transaction
        for occasion in occasions:
            tally[send(session, sender=sender, card_id=occasion.card_id,
                       period=occasion.period, now=now)] += 1
    return tally
