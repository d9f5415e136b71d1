"""Velocity limits: how often one card may buy, how many points one cashier may hand out.

Limits are per program and off (null) unless set. The card limits are exact under the
card's row lock; the cashier limit counts what the key's committed entries say.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.ledger.models import LedgerEntry, Purchase
from app.ledger.postings import Actor
from app.merchants.models import Program


class LimitExceeded(Exception):
    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail


def _limit(program: Program, name: str) -> int | None:
    value = (program.limits or {}).get(name)
    return int(value) if value is not None else None


def check_card_velocity(session: Session, card: Card, now: datetime) -> None:
    for name, window, label in (
        ("purchases_per_card_per_hour", timedelta(hours=1), "an hour"),
        ("purchases_per_card_per_day", timedelta(days=1), "a day"),
    ):
        limit = _limit(card.program, name)
        if limit is None:
            continue
        count = session.scalar(select(func.count(Purchase.id)).where(
            Purchase.card_id == card.id, Purchase.created_at > now - window)) or 0
        if count >= limit:
            raise LimitExceeded(name, f"Card {card.number} already made {count} purchases in "
                                      f"{label}; the program allows {limit}.")


def check_cashier_points(session: Session, program: Program, actor: Actor, now: datetime,
                         points: int) -> None:
    limit = _limit(program, "points_per_cashier_per_day")
    if limit is None or actor.api_key_id is None or points <= 0:
        return
    given = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.api_key_id == actor.api_key_id, LedgerEntry.kind.in_(("earn", "bonus")),
        LedgerEntry.created_at > now - timedelta(days=1))) or 0
    if given + points > limit:
        raise LimitExceeded("points_per_cashier_per_day",
                            f"This key handed out {given} points in a day; {points} more would "
                            f"pass the program's limit of {limit}.")
