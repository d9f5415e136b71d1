"""A purchase as the counter reads it: one rendering for the answer of
``POST /api/v1/pos/purchases`` (from the hand-written statement's values, before any row
exists to read back) and for ``GET /api/v1/pos/purchases/{id}`` (from the ORM rows).

Invariant: for the same purchase, with the card not moved since, both answers are equal
(tests/test_pos_api.py holds them so); a field is added here, once, for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Sold(Protocol):
    """The purchase's columns the answer shows (``app.ledger.models.Purchase``'s names)."""

    @property
    def id(self) -> int: ...
    @property
    def card_id(self) -> int: ...
    @property
    def amount(self) -> int: ...
    @property
    def amount_paid(self) -> int: ...
    @property
    def earned_points(self) -> int: ...
    @property
    def bonus_points(self) -> int: ...
    @property
    def redeemed_points(self) -> int: ...
    @property
    def redeemed_value(self) -> int: ...
    @property
    def stamps_added(self) -> int: ...
    @property
    def rewards_redeemed(self) -> int: ...
    @property
    def refunded_amount(self) -> int: ...
    @property
    def location_id(self) -> int | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


class Holding(Protocol):
    """What the card holds after it (an ORM card, or ``app.points.figures.Figures``)."""

    @property
    def balance(self) -> int: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def stamps(self) -> int: ...
    @property
    def rewards(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NewPurchase:
    """A purchase about to be written by the hand-written statement (``Sold``)."""

    id: int
    card_id: int
    amount: int
    amount_paid: int
    earned_points: int
    bonus_points: int
    redeemed_points: int
    redeemed_value: int
    stamps_added: int
    rewards_redeemed: int
    location_id: int | None
    external_id: str | None
    created_at: datetime
    refunded_amount: int = 0


def purchase_json(purchase: Sold, card: Holding) -> dict[str, Any]:
    """The purchase as both endpoints answer it."""
    return {
        "id": purchase.id,
        "card_id": purchase.card_id,
        "amount": purchase.amount,
        "amount_paid": purchase.amount_paid,
        "earned": purchase.earned_points,
        "bonus": purchase.bonus_points,
        "redeemed": purchase.redeemed_points,
        "redeemed_value": purchase.redeemed_value,
        "stamps_added": purchase.stamps_added,
        "rewards_redeemed": purchase.rewards_redeemed,
        "refunded_amount": purchase.refunded_amount,
        "balance": card.balance,
        "tier": card.tier,
        "stamps": card.stamps,
        "rewards": card.rewards,
        "location_id": purchase.location_id,
        "external_id": purchase.external_id,
        "created_at": purchase.created_at.isoformat() + "Z",
    }
