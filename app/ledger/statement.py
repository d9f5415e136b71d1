"""What the customer's page says about their card beyond its cached figures: the recent
movements of its ledger, and how far the card is from its next tier.

Reads only; nothing here writes or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import LedgerEntry
from app.merchants.models import Location
from app.points.postings import program_rules, spend_figures
from app.points.rules import Tier, tier_for

RECENT_ENTRIES = 10


@dataclass(frozen=True)
class Movement:
    """One ledger entry as the customer reads it."""

    at: datetime
    kind: str  # one of ``app.ledger.models.ENTRY_KINDS``
    points: int
    stamps: int
    rewards: int
    location: str | None


@dataclass(frozen=True)
class TierProgress:
    """Spend over the last 12 months against the next tier's threshold (minor units)."""

    current: str | None
    next: str
    spent: int
    floor: int  # the current tier's threshold (0 below every tier)
    threshold: int

    @property
    def remaining(self) -> int:
        return max(self.threshold - self.spent, 0)


@dataclass(frozen=True)
class Statement:
    movements: list[Movement]
    tier_progress: TierProgress | None  # None: no tiers, or the card is at the top one
    top_tier: bool


def card_statement(session: Session, *, card: Card, now: datetime | None = None,
                   size: int = RECENT_ENTRIES) -> Statement:
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.points,
               LedgerEntry.stamps, LedgerEntry.rewards, Location.name.label("location"))
        .outerjoin(Location, Location.id == LedgerEntry.location_id)
        .where(LedgerEntry.card_id == card.id)
        .order_by(LedgerEntry.id.desc()).limit(size)).all()
    movements = [Movement(at=row.created_at, kind=row.kind, points=row.points,
                          stamps=row.stamps, rewards=row.rewards, location=row.location)
                 for row in rows]
    tiers = program_rules(card.program).tiers
    if not tiers:
        return Statement(movements, None, top_tier=False)
    spent = spend_figures(session, card.id, now or utcnow()).spend_12_months
    progress = _progress(tiers, spent)
    return Statement(movements, progress, top_tier=progress is None)


def _progress(tiers: tuple[Tier, ...], spent: int) -> TierProgress | None:
    current = tier_for(tiers, spent)
    floor = current.min_spend if current is not None else 0
    above = sorted((tier for tier in tiers if tier.min_spend > spent),
                   key=lambda tier: tier.min_spend)
    if not above:
        return None
    return TierProgress(current=current.name if current else None, next=above[0].name,
                        spent=spent, floor=floor, threshold=above[0].min_spend)
