"""Which cards a change can reach now, and why the others cannot.

A card (not deleted) is, in this order:
- reachable: an Apple registration whose pushes are not parked as failed, or a Google
  object saved and not removed whose sync has not failed;
- failing: installed (a registration, or a saved Google object) but every way to it fails;
- removed: it was in a wallet once (a wallet event, or a Google object removed) and is no
  longer;
- never installed: the rest.
One query: per card flags from registrations, Google objects and wallet events (a
``UNION ALL`` grouped by card), joined to the program's cards, counted per location, tier
and state. A pass over the program's cards: the worker keeps the counts of each program
(``app.analytics.rollup``, every few minutes), and the stats read them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from app.analytics.flows import Scope
from app.analytics.models import StatsRollup, WalletEvent
from app.cards.models import Card, CardStatus
from app.devices.models import Registration
from app.google_wallet.models import GoogleObject, held_in_a_wallet

FAILED = "failed"


@dataclass(frozen=True)
class Reach:
    cards: int
    reachable: int
    failing: int
    removed: int

    @property
    def never_installed(self) -> int:
        return self.cards - self.reachable - self.failing - self.removed

    @property
    def share(self) -> float | None:
        return self.reachable / self.cards if self.cards else None


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


REACHABLE, FAILING, REMOVED, NEVER_INSTALLED = ("reachable", "failing", "removed",
                                               "never_installed")


@dataclass(frozen=True)
class CardCounts:
    """The cards of a scope per tier and their reach, and when they were counted (None:
    just now)."""

    tiers: dict[str, int]
    reach: Reach
    counted_at: datetime | None


def card_count_rows(session: Session, *, program_id: int) -> list[dict[str, Any]]:
    """The program's cards (not deleted) counted per location, tier and reach state:
    ``[{"location_id", "tier", "reach", "cards"}]`` (what ``stats_rollups`` keeps)."""
    one, zero = literal(1, Integer), literal(0, Integer)
    saved = held_in_a_wallet()
    flags = union_all(
        select(Registration.card_id.label("card_id"),
               _flag(Registration.push_status != FAILED).label("live"),
               one.label("present"), one.label("ever"))
        .join(Card, Card.id == Registration.card_id)
        .where(Card.program_id == program_id),
        select(GoogleObject.card_id, _flag(saved & (GoogleObject.status != FAILED)),
               _flag(saved),
               _flag(GoogleObject.saved_at.is_not(None) | GoogleObject.removed_at.is_not(None)))
        .where(GoogleObject.program_id == program_id),
        select(WalletEvent.card_id, zero, zero, one)
        .where(WalletEvent.program_id == program_id),
    ).subquery()
    per_card = select(flags.c.card_id, func.max(flags.c.live).label("live"),
                      func.max(flags.c.present).label("present"),
                      func.max(flags.c.ever).label("ever")).group_by(flags.c.card_id).subquery()
    state = case((per_card.c.live == 1, REACHABLE),
                 ((per_card.c.live == 0) & (per_card.c.present == 1), FAILING),
                 ((per_card.c.present == 0) & (per_card.c.ever == 1), REMOVED),
                 else_=NEVER_INSTALLED).label("reach")
    statement = select(Card.location_id, Card.tier, state, func.count().label("cards")
                       ).select_from(Card).outerjoin(per_card, per_card.c.card_id == Card.id
                                                     ).where(
        Card.program_id == program_id, Card.status != CardStatus.DELETED.value,
    ).group_by(Card.location_id, Card.tier, state).order_by(
        Card.location_id, Card.tier, state)
    return [{"location_id": row.location_id, "tier": row.tier, "reach": row.reach,
             "cards": int(row.cards)} for row in session.execute(statement)]


def counted_cards(session: Session, *, scope: Scope) -> CardCounts:
    """Tiers and reach of the scope's cards: as the worker last counted them
    (``stats_rollups``), or counted now for a program it has not counted yet."""
    stored = session.execute(select(StatsRollup.counted_at, StatsRollup.card_counts).where(
        StatsRollup.program_id == scope.program_id, StatsRollup.counted_at.is_not(None))
    ).one_or_none()
    rows = (stored.card_counts if stored is not None
            else card_count_rows(session, program_id=scope.program_id))
    wanted = [row for row in rows
              if not scope.locations or row["location_id"] in scope.locations]
    tiers: dict[str, int] = defaultdict(int)
    states: dict[str, int] = defaultdict(int)
    for row in wanted:
        states[row["reach"]] += row["cards"]
        if row["tier"] is not None:
            tiers[row["tier"]] += row["cards"]
    return CardCounts(
        tiers=dict(tiers),
        reach=Reach(cards=sum(states.values()), reachable=states[REACHABLE],
                    failing=states[FAILING], removed=states[REMOVED]),
        counted_at=stored.counted_at if stored is not None else None)
