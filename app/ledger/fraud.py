"""Velocity limits: how often one card may buy, how many points one cashier may hand out.

Limits are per program and off (null) unless set. The card limits are exact under the
card's row lock; the cashier limit counts what the key's committed entries say (for a
staff member at the dashboard's cashier screen, who has no key: theirs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ledger.models import LedgerEntry
from app.points.postings import Actor

Limits = Mapping[str, int | None]
CARD_WINDOWS = (
    ("purchases_per_card_per_hour", timedelta(hours=1), "an hour"),
    ("purchases_per_card_per_day", timedelta(days=1), "a day"),
)


class LimitExceeded(Exception):
    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail


def limit(limits: Limits | None, name: str) -> int | None:
    value = (limits or {}).get(name)
    return int(value) if value is not None else None


def card_limits_set(limits: Limits | None) -> bool:
    return any(limit(limits, name) is not None for name, _, _ in CARD_WINDOWS)


def check_card_velocity(limits: Limits | None, *, card_number: str,
                        purchases: Mapping[str, int]) -> None:
    """``purchases`` counts the card's purchases in each window (by limit name)."""
    for name, _, label in CARD_WINDOWS:
        allowed = limit(limits, name)
        count = purchases.get(name, 0)
        if allowed is not None and count >= allowed:
            raise LimitExceeded(name, f"Card {card_number} already made {count} purchases "
                                      f"in {label}; the program allows {allowed}.")


def check_cashier_points(session: Session, limits: Limits | None, actor: Actor,
                         now: datetime, points: int) -> None:
    allowed = limit(limits, "points_per_cashier_per_day")
    if actor.api_key_id is not None:
        cashier, who = LedgerEntry.api_key_id == actor.api_key_id, "key"
    elif actor.staff_id is not None:
        cashier, who = LedgerEntry.staff_id == actor.staff_id, "staff member"
    else:
        return
    if allowed is None or points <= 0:
        return
    given = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        cashier, LedgerEntry.kind.in_(("earn", "bonus")),
        LedgerEntry.created_at > now - timedelta(days=1))) or 0
    if given + points > allowed:
        raise LimitExceeded("points_per_cashier_per_day",
                            f"This {who} handed out {given} points in a day; {points} more "
                            f"would pass the program's limit of {allowed}.")
