"""What a card's pass says beyond its cached figures: the card's last few ledger movements
and, for a program with tiers, the spend of the last 12 months its next tier is counted
from. Read once per pass built (two indexed queries at most), in the caller's session.

Invariant: reads only; nothing here writes or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import LedgerEntry
from app.points.postings import spend_figures

HISTORY_LENGTH = 5  # movements on the back of a pass: enough to recognise the last visits


@dataclass(frozen=True)
class Movement:
    """One ledger entry as a pass tells it."""

    created_at: datetime
    kind: str
    points: int
    stamps: int
    rewards: int


@dataclass(frozen=True)
class CardFacts:
    """``spend_12_months`` is None when the program has no tiers (nothing is counted)."""

    movements: tuple[Movement, ...] = ()
    spend_12_months: int | None = None


def card_facts(session: Session, card: Card, *, now: datetime | None = None) -> CardFacts:
    """The card's newest movements (newest first) and, with tiers, its 12-month spend."""
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.points,
               LedgerEntry.stamps, LedgerEntry.rewards)
        .where(LedgerEntry.card_id == card.id)
        .order_by(LedgerEntry.id.desc()).limit(HISTORY_LENGTH)
    ).all()
    movements = tuple(Movement(created_at=row.created_at, kind=row.kind, points=row.points,
                               stamps=row.stamps, rewards=row.rewards) for row in rows)
    spend = None
    if card.program.tiers:
        spend = spend_figures(session, card.id, now or utcnow()).spend_12_months
    return CardFacts(movements=movements, spend_12_months=spend)
