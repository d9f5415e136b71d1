"""What the fraud detector (``app.ledger.fraud_patterns``) knows of the programs it
watches, what it suspects, and the evidence it lists: plain values, the purchases and
cards as an alert's ``evidence`` JSON keeps them.

Invariants: evidence names rows of the alert's own merchant only, at most
``EVIDENCE_LIMIT`` of each kind (the count says how many there were); a suspicion's
``dedupe_key`` is the same for the same pattern, subject and period however often and by
whichever worker it is found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import iso
from app.ledger.models import Purchase
from app.merchants.fraud_thresholds import FraudThresholds, thresholds_of
from app.merchants.models import Program

EVIDENCE_LIMIT = 50


@dataclass(frozen=True)
class Cashier:
    """Who was at the till: an API key, or a staff member at the dashboard's cashier
    screen (neither: a purchase whose member nothing recorded)."""

    api_key_id: int | None
    staff_id: int | None

    @property
    def key(self) -> str:
        return f"k{self.api_key_id}" if self.api_key_id is not None else f"s{self.staff_id}"

    def describe(self) -> str:
        if self.api_key_id is not None:
            return f"API key {self.api_key_id}"
        if self.staff_id is not None:
            return f"staff member {self.staff_id}"
        return "the dashboard's cashier screen"


@dataclass(frozen=True)
class Watched:
    """A program the detector reads: its merchant, thresholds and bonus thresholds (the
    purchase amounts from which a bonus or a stamp is given)."""

    id: int
    merchant_id: int
    thresholds: FraudThresholds
    bonus_thresholds: tuple[int, ...]


@dataclass(frozen=True)
class Suspicion:
    """An alert to raise, unless one with its ``dedupe_key`` was raised already."""

    merchant_id: int
    program_id: int
    kind: str
    detail: str
    dedupe_key: str
    evidence: dict[str, Any] = field(default_factory=dict)
    card_id: int | None = None
    location_id: int | None = None
    cashier: Cashier | None = None


def watched_programs(session: Session, program_ids: Iterable[int]) -> dict[int, Watched]:
    ids = sorted(set(program_ids))
    if not ids:
        return {}
    rows = session.execute(select(
        Program.id, Program.merchant_id, Program.kind, Program.fraud, Program.triggers,
        Program.stamp_min_amount).where(Program.id.in_(ids))).all()
    return {row.id: Watched(id=row.id, merchant_id=row.merchant_id,
                            thresholds=thresholds_of(row.fraud),
                            bonus_thresholds=_bonus_thresholds(row.kind, row.triggers,
                                                               row.stamp_min_amount))
            for row in rows}


def _bonus_thresholds(kind: str, triggers: list[dict[str, Any]] | None,
                      stamp_min_amount: int | None) -> tuple[int, ...]:
    found = {int(trigger["amount"]) for trigger in triggers or ()
             if trigger.get("kind") == "min_amount" and trigger.get("amount")}
    if kind == "stamps" and stamp_min_amount and stamp_min_amount > 1:
        found.add(int(stamp_min_amount))
    return tuple(sorted(found))


def purchases_listed(session: Session, purchase_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The purchases, oldest first, as evidence lists them."""
    ids = sorted(set(purchase_ids))[:EVIDENCE_LIMIT]
    if not ids:
        return []
    rows = session.execute(select(
        Purchase.id, Purchase.card_id, Card.number, Purchase.amount, Purchase.amount_paid,
        Purchase.earned_points, Purchase.bonus_points, Purchase.redeemed_points,
        Purchase.location_id, Purchase.api_key_id, Purchase.created_at)
        .join(Card, Card.id == Purchase.card_id)
        .where(Purchase.id.in_(ids)).order_by(Purchase.id)).all()
    return [{"id": row.id, "card_id": row.card_id, "card_number": row.number,
             "amount": row.amount, "amount_paid": row.amount_paid,
             "earned": row.earned_points, "bonus": row.bonus_points,
             "redeemed": row.redeemed_points, "location_id": row.location_id,
             "api_key_id": row.api_key_id, "created_at": iso(row.created_at)}
            for row in rows]


def card_listed(card_id: int, number: str, created_at: datetime,
                location_id: int | None) -> dict[str, Any]:
    return {"id": card_id, "number": number, "created_at": iso(created_at),
            "location_id": location_id}
