"""The card's cached figures (balance, stamps, rewards, visits, last visit, lifetime spend,
tier), computed in one place for both ways a card is written: the ORM use cases
(``app.points.postings``: refunds, adjustments, re-tiering) and the counter's hand-written
purchase (``app.ledger.purchase_rows``).

Invariants: the balances move by exactly the entries posted and never go below zero (the
database's CHECKs are the last line, this is the first); the tier is the program's tier
for the rolling 12-month spend; figures not given (no spend) stay as they were. Pure:
no session, no I/O, so that both paths can call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.points.rules import Tier, tier_for


class Cached(Protocol):
    """The cached figures of a card as either path holds them (an ORM card or a row)."""

    @property
    def id(self) -> int: ...
    @property
    def balance(self) -> int: ...
    @property
    def stamps(self) -> int: ...
    @property
    def rewards(self) -> int: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def visits(self) -> int: ...
    @property
    def last_visit_at(self) -> datetime | None: ...
    @property
    def lifetime_spend(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SpendFigures:
    """The card's purchase figures (net of refunds), as the purchases say them."""

    visits: int
    last_visit_at: datetime | None
    lifetime_spend: int
    spend_12_months: int


@dataclass(frozen=True, slots=True)
class Figures:
    """What the card's cached columns become."""

    balance: int
    stamps: int
    rewards: int
    tier: str | None
    visits: int
    last_visit_at: datetime | None
    lifetime_spend: int


def card_figures(card: Cached, *, points: int = 0, stamps: int = 0, rewards: int = 0,
                 spend: SpendFigures | None = None, tiers: Sequence[Tier] = ()) -> Figures:
    """The card's figures once ``points``/``stamps``/``rewards`` are posted and (if given)
    its purchases are ``spend``; raises ValueError rather than go below zero."""
    balance, stamps, rewards = card.balance + points, card.stamps + stamps, card.rewards + rewards
    if balance < 0 or stamps < 0 or rewards < 0:
        # The use cases and the rules check before posting; the CHECKs are the last line.
        raise ValueError(f"posting {points} points, {stamps} stamps, {rewards} rewards"
                         f" would take card {card.id} below zero")
    if spend is None:
        return Figures(balance, stamps, rewards, card.tier, card.visits, card.last_visit_at,
                       card.lifetime_spend)
    reached = tier_for(tiers, spend.spend_12_months)
    return Figures(balance, stamps, rewards, reached.name if reached is not None else None,
                   spend.visits, spend.last_visit_at, spend.lifetime_spend)
