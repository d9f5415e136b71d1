"""RFM segments: each customer who bought scored on recency, frequency and money, named.

What is scored: a program's active cards with at least one purchase (cards that never
bought have nothing to score and belong to no segment). The three measures are the
card's cached purchase figures, which always equal its purchases (``app.points.figures``):

- recency: the day of the last purchase (``date(last_visit_at)``, UTC); later is better;
- frequency: the number of purchases (``visits``);
- monetary: what was paid, net of refunds (``lifetime_spend``).

Scores are quintiles per program, 1 (worst fifth) to 5 (best fifth), computed on the
database with window functions: ``score = 1 + 5 × (rank − 1) ÷ n`` (integer division),
where ``rank`` is ``RANK()`` over the measure ascending (the position of the first card
with that value, counting from 1) and ``n`` the number of scored cards. Ties: equal
values share one rank, so they always get the same score, and a value shared by many
cards takes the score of where its run starts (when half the customers bought once, all of
them score 1 on frequency, and the next score used is 3).

Segments come from the recency score R and FM = (F + M + 1) ÷ 2 (the mean of frequency
and money rounded up), by ``GRID``, the first row that matches:

=============  ======  =======
segment        R       FM
=============  ======  =======
champions      4–5     4–5
loyal          3–5     3–5
new            4–5     1
promising      3–5     1–2
cant_lose      1       4–5
at_risk        1–2     3–5
hibernating    2       1–2
lost           1       1–2
=============  ======  =======

Invariants: one computation replaces a program's rows whole in one transaction (deleted
and written again from the cards, never merged), so rerunning it on the same data writes
the same rows, and stores the counts per segment and location beside them (what
``segment_counts`` reads: a count never scans the program's rows); the program's
``segment_refreshes`` row is locked first, so two workers or a worker and a merchant's
refresh never compute one program at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from app.analytics.models import (
    AT_RISK,
    CANT_LOSE,
    CHAMPIONS,
    HIBERNATING,
    LOST,
    LOYAL,
    NEW,
    PROMISING,
    SEGMENTS,
    CardSegment,
    SegmentRefresh,
)
from app.bulk import insert_if_absent
from app.cards.models import Card, CardStatus
from app.clock import utcnow
from app.merchants.models import Program

SCORES = 5  # quintiles
# Segments are recomputed by the worker when they are older than this.
REFRESH_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Cell:
    """A row of the grid: the segment of recency scores ``r`` and FM scores ``fm``."""

    segment: str
    r: tuple[int, int]
    fm: tuple[int, int]


GRID = (
    Cell(CHAMPIONS, (4, 5), (4, 5)),
    Cell(LOYAL, (3, 5), (3, 5)),
    Cell(NEW, (4, 5), (1, 1)),
    Cell(PROMISING, (3, 5), (1, 2)),
    Cell(CANT_LOSE, (1, 1), (4, 5)),
    Cell(AT_RISK, (1, 2), (3, 5)),
    Cell(HIBERNATING, (2, 2), (1, 2)),
    Cell(LOST, (1, 1), (1, 2)),
)
_SEGMENTS = cast(Table, CardSegment.__table__)
_REFRESHES = cast(Table, SegmentRefresh.__table__)


def segment_for(recency: int, frequency: int, monetary: int) -> str:
    """The segment of three scores, by ``GRID``."""
    fm = (frequency + monetary + 1) // 2
    for cell in GRID:
        if cell.r[0] <= recency <= cell.r[1] and cell.fm[0] <= fm <= cell.fm[1]:
            return cell.segment
    raise ValueError(f"scores out of range: {recency}, {frequency}, {monetary}")


@dataclass(frozen=True)
class Refresh:
    """What one computation did: the cards scored (0 when it was not due) and when; or,
    for a request on demand that the worker will serve (``queued``), the last ones."""

    program_id: int
    cards: int
    refreshed_at: datetime | None
    ran: bool
    queued: bool = False


# On demand, a program with more cards than this is computed by the worker (within a
# minute) rather than in the request: at a million cards a computation takes tens of
# seconds, longer than a web request may (gunicorn's timeout).
COMPUTE_NOW_CARDS = 50_000


def request_refresh(session: Session, *, program_id: int, now: datetime | None = None
                    ) -> Refresh:
    """Compute the program's segments now (and commit), or, for a program larger than
    ``COMPUTE_NOW_CARDS``, ask the worker to: ``queued``, with the last computation's."""
    now = now or utcnow()
    cards = session.scalar(select(func.count()).select_from(Card).where(
        Card.program_id == program_id)) or 0
    if cards <= COMPUTE_NOW_CARDS:
        return refresh_segments(session, program_id=program_id, now=now)
    _ensure_refresh_row(session, program_id)
    state = session.scalars(select(SegmentRefresh).where(
        SegmentRefresh.program_id == program_id).with_for_update()
        .execution_options(populate_existing=True)).one()
    state.requested_at = now
    done = Refresh(program_id, state.cards, state.refreshed_at, ran=False, queued=True)
    session.commit()
    return done


def _asked(state: SegmentRefresh) -> bool:
    """Whether a computation was asked for since the last one."""
    return state.requested_at is not None and (
        state.refreshed_at is None or state.requested_at > state.refreshed_at)


def refresh_segments(session: Session, *, program_id: int, now: datetime | None = None,
                     older_than: timedelta | None = None) -> Refresh:
    """Recompute the program's segments and commit. With ``older_than`` (the worker's
    daily round) only when the last computation is at least that old; otherwise at once."""
    now = now or utcnow()
    _ensure_refresh_row(session, program_id)
    state = session.scalars(select(SegmentRefresh).where(
        SegmentRefresh.program_id == program_id).with_for_update()
        .execution_options(populate_existing=True)).one()
    if (older_than is not None and state.refreshed_at is not None
            and state.refreshed_at > now - older_than and not _asked(state)):
        session.commit()
        return Refresh(program_id, state.cards, state.refreshed_at, ran=False)
    session.execute(delete(_SEGMENTS).where(_SEGMENTS.c.program_id == program_id))
    session.execute(insert(_SEGMENTS).from_select(
        ["card_id", "program_id", "location_id", "recency", "frequency", "monetary",
         "segment", "computed_at"], _scored_cards(program_id, now)))
    state.totals = _totals(session, program_id)
    state.cards = sum(total["cards"] for total in state.totals)
    state.refreshed_at = now
    cards = state.cards
    session.commit()
    return Refresh(program_id, cards, now, ran=True)


def _totals(session: Session, program_id: int) -> list[dict[str, Any]]:
    """How many of the program's scored cards each segment holds, per location."""
    rows = session.execute(
        select(CardSegment.location_id, CardSegment.segment, func.count().label("cards"))
        .where(CardSegment.program_id == program_id)
        .group_by(CardSegment.location_id, CardSegment.segment)
        .order_by(CardSegment.location_id, CardSegment.segment))
    return [{"location_id": row.location_id, "segment": row.segment, "cards": int(row.cards)}
            for row in rows]


def _ensure_refresh_row(session: Session, program_id: int) -> None:
    values: dict[str, Any] = {"program_id": program_id, "refreshed_at": None, "cards": 0,
                              "totals": []}
    insert_if_absent(session, _REFRESHES, values, ["program_id"])


def _scored_cards(program_id: int, now: datetime) -> Any:
    """The SELECT of every scored card's row of ``card_segments``, ranks to segments."""
    ranks = select(
        Card.id.label("card_id"),
        Card.location_id,
        func.rank().over(order_by=func.date(Card.last_visit_at)).label("r_rank"),
        func.rank().over(order_by=Card.visits).label("f_rank"),
        func.rank().over(order_by=Card.lifetime_spend).label("m_rank"),
        func.count().over().label("n"),
    ).where(Card.program_id == program_id, Card.status == CardStatus.ACTIVE.value,
            Card.visits > 0).subquery("ranks")
    scores = select(
        ranks.c.card_id, ranks.c.location_id,
        *(((ranks.c[f"{name[0]}_rank"] - 1) * SCORES // ranks.c.n + 1).label(name)
          for name in ("recency", "frequency", "monetary")),
    ).subquery("scores")
    fm = (scores.c.frequency + scores.c.monetary + 1) // 2
    segment = case(*((and_(scores.c.recency.between(*cell.r), fm.between(*cell.fm)),
                      cell.segment) for cell in GRID))
    return select(scores.c.card_id, literal(program_id), scores.c.location_id,
                  scores.c.recency,
                  scores.c.frequency, scores.c.monetary, segment, literal(now))


def refresh_due(session: Session, *, now: datetime | None = None,
                every: timedelta = REFRESH_EVERY) -> list[Refresh]:
    """The worker's daily round: recompute every program whose segments are older than
    ``every`` (or were never computed, or were asked for since: ``request_refresh``), one
    commit per program."""
    now = now or utcnow()
    due = session.scalars(
        select(Program.id).outerjoin(SegmentRefresh, SegmentRefresh.program_id == Program.id)
        .where((SegmentRefresh.refreshed_at.is_(None))
               | (SegmentRefresh.refreshed_at <= now - every)
               | (SegmentRefresh.requested_at > SegmentRefresh.refreshed_at))
        .order_by(Program.id)).all()
    session.rollback()
    return [refresh_segments(session, program_id=program_id, now=now, older_than=every)
            for program_id in due]


def segment_counts(session: Session, *, program_id: int, location_id: int | None = None,
                   locations: Collection[int] = ()) -> dict[str, int]:
    """How many cards each segment holds (every segment named, 0 when empty) as last
    computed; with ``location_id`` (or ``locations``, a principal limited to them), the
    cards that joined at that location (those). Read from the totals the computation
    stored: one row, however many cards."""
    totals = session.scalar(select(SegmentRefresh.totals).where(
        SegmentRefresh.program_id == program_id)) or []
    wanted = {location_id} if location_id is not None else set(locations)
    counts = dict.fromkeys(SEGMENTS, 0)
    for total in totals:
        if not wanted or total["location_id"] in wanted:
            counts[total["segment"]] += int(total["cards"])
    return counts


@dataclass(frozen=True)
class CardScores:
    """A card's segment and scores as last computed."""

    segment: str
    recency: int
    frequency: int
    monetary: int
    computed_at: datetime


def card_scores(session: Session, *, card_ids: list[int]) -> dict[int, CardScores]:
    """The segment and scores of each of ``card_ids`` that has them."""
    if not card_ids:
        return {}
    rows = session.scalars(select(CardSegment).where(CardSegment.card_id.in_(card_ids)))
    return {row.card_id: CardScores(row.segment, row.recency, row.frequency, row.monetary,
                                    row.computed_at) for row in rows}


def last_refresh(session: Session, *, program_id: int) -> datetime | None:
    """When the program's segments were last computed (None: never)."""
    return session.scalar(select(SegmentRefresh.refreshed_at).where(
        SegmentRefresh.program_id == program_id))
