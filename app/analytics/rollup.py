"""The stats' summaries, kept by the worker: each program's days once they are over, and
its cards counted now and then (``app.analytics.models`` describes the tables).

Invariants:
- a day is rolled up once, after it has been over for ``ROLL_AFTER`` (longer than any
  transaction that could still commit a row stamped with it), and never edited: every row
  the stats count is stamped with the time it is written, so a day that is over does not
  change. ``stats_rollups.through_day`` says where the summaries end; what the stats read
  after it comes from the live tables, so an answer is the same whether or not, and how
  far, the program is rolled up (``tests/test_stats.py`` checks each case);
- the rows of the days rolled up and the new ``through_day`` are committed together, a
  chunk of at most ``CHUNK_DAYS`` days at a time (a long history after the upgrade is
  rolled up over several commits, each a consistent state);
- the program's row in ``stats_rollups`` is locked while its days are rolled up or its
  cards counted, so two workers never do it at once (the second finds it done);
- the summaries are written by the sources that define the live figures
  (``app.analytics.flows.SOURCES`` and ``app.analytics.visits.visit_rows``): one
  definition of each figure.
``rebuild`` starts a program's summaries again (``loyalpass stats rebuild``), should the
history ever be written into the past by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.analytics.days import Period, day_of, number_of
from app.analytics.flows import FIGURES, SOURCES, Scope
from app.analytics.models import (
    LocationVisitDay,
    StatsDay,
    StatsRollup,
    VisitCount,
    VisitDay,
    WalletEvent,
)
from app.analytics.reach import card_count_rows
from app.analytics.visits import LOCATION_VISIT_DAYS, VISIT_DAYS, visit_rows
from app.bulk import insert_if_absent
from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import LedgerEntry, Purchase, Refund
from app.merchants.models import Program

ROLL_AFTER = timedelta(minutes=10)
COUNT_EVERY = timedelta(minutes=5)
CHUNK_DAYS = 31
# A worker's round rolls up at most this many chunks of a program: a long history is
# caught up over several rounds (run back to back), so that the loop stops promptly.
CHUNKS_PER_ROUND = 2
_STATS_DAYS: Any = StatsDay.__table__
_ROLLUPS: Any = StatsRollup.__table__
_VISIT_COUNTS: Any = VisitCount.__table__


@dataclass(frozen=True)
class Rolled:
    """What one round did for a program: days rolled up, and whether its cards were
    counted."""

    program_id: int
    days: int
    counted: bool
    more: bool = False  # days over remain to roll up (the round's chunks were spent)


def last_closed_day(now: datetime) -> int:
    """The last day (number) that has been over for ``ROLL_AFTER`` at ``now``."""
    return number_of((now - ROLL_AFTER).date()) - 1


def roll_up_due(session: Session, *, now: datetime | None = None) -> list[Rolled]:
    """The worker's round: every program rolled up to the last closed day (up to
    ``CHUNKS_PER_ROUND`` chunks each), its cards counted when last counted
    ``COUNT_EVERY`` ago or more."""
    now = now or utcnow()
    programs = session.scalars(select(Program.id).order_by(Program.id)).all()
    session.rollback()
    return [roll_up(session, program_id=program_id, through=last_closed_day(now), now=now,
                    chunks=CHUNKS_PER_ROUND) for program_id in programs]


def roll_up(session: Session, *, program_id: int, through: int, now: datetime,
            count_every: timedelta | None = COUNT_EVERY, chunks: int | None = None) -> Rolled:
    """Roll the program's days up to ``through`` (a day number), a commit per chunk (at
    most ``chunks`` of them; None: all), then count its cards if due (``count_every``
    None: now)."""
    rolled, more = 0, False
    while True:
        state = _locked(session, program_id)
        first = (state.through_day + 1 if state.through_day is not None
                 else _first_day(session, program_id))
        if first is None or first > through:
            if state.through_day is None or state.through_day < through:
                state.through_day, state.rolled_at = through, now  # nothing happened yet
            session.commit()
            break
        if chunks is not None and rolled >= chunks * CHUNK_DAYS:
            more = True
            session.commit()
            break
        last = min(first + CHUNK_DAYS - 1, through)
        _roll_days(session, state=state, first=first, last=last)
        state.through_day, state.rolled_at = last, now
        session.commit()
        rolled += last - first + 1
    state = _locked(session, program_id)
    due = (count_every is None or state.counted_at is None
           or state.counted_at <= now - count_every)
    if due:
        state.card_counts = card_count_rows(session, program_id=program_id)
        state.counted_at = now
    session.commit()
    return Rolled(program_id=program_id, days=rolled, counted=due, more=more)


def rebuild(session: Session, *, program_id: int) -> None:
    """Forget the program's summaries: the next round rolls its whole history up again."""
    _locked(session, program_id)
    for table in (StatsDay, VisitDay, LocationVisitDay, VisitCount):
        session.execute(delete(table).where(table.program_id == program_id))
    session.execute(update(StatsRollup).where(StatsRollup.program_id == program_id).values(
        through_day=None, rolled_at=None, counted_at=None, card_counts=[]))
    session.commit()


def _locked(session: Session, program_id: int) -> StatsRollup:
    values: dict[str, Any] = {"program_id": program_id, "through_day": None, "rolled_at": None,
              "counted_at": None, "card_counts": []}
    insert_if_absent(session, _ROLLUPS, values, ["program_id"])
    return session.scalars(select(StatsRollup).where(StatsRollup.program_id == program_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def _first_day(session: Session, program_id: int) -> int | None:
    """The program's first day with anything to count (each an indexed minimum)."""
    program = session.get(Program, program_id)
    if program is None:
        return None
    firsts = [
        session.scalar(select(func.min(Card.created_at)).where(Card.program_id == program_id)),
        session.scalar(select(func.min(Purchase.created_at))
                       .where(Purchase.program_id == program_id)),
        session.scalar(select(func.min(LedgerEntry.created_at))
                       .where(LedgerEntry.merchant_id == program.merchant_id)),
        session.scalar(select(func.min(Refund.created_at))
                       .where(Refund.merchant_id == program.merchant_id)),
        session.scalar(select(func.min(WalletEvent.created_at))
                       .where(WalletEvent.program_id == program_id)),
    ]
    known = [moment for moment in firsts if moment is not None]
    return number_of(min(known).date()) if known else None


def _roll_days(session: Session, *, state: StatsRollup, first: int, last: int) -> None:
    """Write the summaries of days ``first``…``last`` (the days before are rolled up)."""
    program = session.get(Program, state.program_id)
    assert program is not None
    scope = Scope(merchant_id=program.merchant_id, program_id=program.id)
    period = Period(start=day_of(first), end=day_of(last))
    session.execute(delete(StatsDay).where(StatsDay.program_id == program.id,
                                           StatsDay.day.between(first, last)))
    columns = ["location_id", "day", *FIGURES]
    for source in SOURCES:
        rows = source(scope, period).subquery()
        session.execute(insert(_STATS_DAYS).from_select(
            ["program_id", *columns],
            select(_literal_program(program.id), *(rows.c[name] for name in columns))))
    for table, by_location in ((VISIT_DAYS, False), (LOCATION_VISIT_DAYS, True)):
        session.execute(delete(table).where(table.c.program_id == program.id,
                                            table.c.day.between(first, last)))
        rows = visit_rows(program.id, period, by_location=by_location).subquery()
        names = ["card_id", "day", "prev_day", "prev2_day"] + (
            ["location_id"] if by_location else [])
        session.execute(insert(table).from_select(
            ["program_id", *names],
            select(_literal_program(program.id), *(rows.c[name] for name in names))))
    session.execute(delete(VisitCount).where(VisitCount.program_id == program.id,
                                             VisitCount.day.between(first, last)))
    for table, by_location in ((VISIT_DAYS, False), (LOCATION_VISIT_DAYS, True)):
        for step, previous in ((1, table.c.prev_day), (2, table.c.prev2_day)):
            place = table.c.location_id if by_location else literal(None, Integer)
            gap = table.c.day - previous
            session.execute(insert(_VISIT_COUNTS).from_select(
                ["program_id", "location_id", "day", "step", "gap", "visits"],
                select(_literal_program(program.id), place.label("location_id"), table.c.day,
                       literal(step, Integer), gap.label("gap"), func.count())
                .where(table.c.program_id == program.id, table.c.day.between(first, last))
                .group_by(*([place] if by_location else []), table.c.day, gap)))


def _literal_program(program_id: int) -> Any:
    return literal(program_id, Integer).label("program_id")
