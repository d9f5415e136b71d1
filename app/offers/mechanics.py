"""What an offer does at the till: pure rules over plain values (no database, no clock).

An offer's ``mechanic`` (stored as JSON on the offer) is one of:

- ``{"type": "bonus_points", "points": N}``: N points more on every purchase the card
  makes while the offer runs;
- ``{"type": "multiplier", "factor": F}``: the purchase's earned points count F times
  (1 < F <= 10): the bonus is ``floor(earned × (F − 1))``, on the points the earn rate
  gave (tiers included), not on other bonuses;
- ``{"type": "coupon", "points": N?, "text": "…"?}``: once per card, when the cashier
  names it in a purchase (``coupon``: the offer's id); N points (0 when absent) and a
  text the cashier reads ("Free croissant").

Invariants: a mechanic applies only to a card the offer was published to (not held out),
while the offer is published and ``starts_at <= now < ends_at``; what it gives is a
``bonus`` ledger entry naming the offer (``ledger_entries.offer_id``), taken back in
proportion on a refund like earned points; a coupon is redeemed once per card
(``coupon_redemptions``' unique (offer, card)). A stamps program's offers give no points
(its cards hold stamps): they may be coupons with a text only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.points.rules import OfferBonus, floor_decimal

BONUS_POINTS, MULTIPLIER, COUPON = "bonus_points", "multiplier", "coupon"
MECHANIC_TYPES = (BONUS_POINTS, MULTIPLIER, COUPON)
ONE = Decimal(1)


@dataclass(frozen=True)
class Mechanic:
    """An offer's mechanic, read from its stored JSON."""

    type: str
    points: int = 0
    factor: Decimal = ONE
    text: str = ""

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Mechanic:
        return cls(type=str(stored["type"]), points=int(stored.get("points") or 0),
                   factor=Decimal(str(stored.get("factor") or 1)),
                   text=str(stored.get("text") or ""))

    @property
    def gives_points(self) -> bool:
        return self.type == MULTIPLIER or self.points > 0


@dataclass(frozen=True)
class LiveOffer:
    """A published offer of the program with a mechanic, and its window."""

    offer_id: int
    mechanic: Mechanic
    starts_at: datetime
    ends_at: datetime | None

    def runs_at(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)


def offer_bonuses(granted: Iterable[tuple[int, Mechanic]], *, earned: int,
                  coupon: int | None) -> tuple[OfferBonus, ...]:
    """The bonuses of the offers ``granted`` to the card (by offer id, running now) on a
    purchase that earned ``earned`` points and names ``coupon`` (or none). Coupons other
    than the one named give nothing; zero bonuses are left out."""
    bonuses = []
    for offer_id, mechanic in sorted(granted, key=lambda pair: pair[0]):
        if mechanic.type == BONUS_POINTS:
            points, reason = mechanic.points, f"offer {offer_id}: bonus points"
        elif mechanic.type == MULTIPLIER:
            points = floor_decimal(Decimal(earned) * (mechanic.factor - ONE))
            reason = f"offer {offer_id}: points ×{mechanic.factor}"
        elif offer_id == coupon:
            points, reason = mechanic.points, f"offer {offer_id}: coupon"
        else:
            continue
        if points > 0:
            bonuses.append(OfferBonus(offer_id, points, reason))
    return tuple(bonuses)


def stored_mechanic(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The mechanic as the offer stores it (and the API shows it): the factor a number."""
    if data is None:
        return None
    stored = {key: value for key, value in data.items() if value is not None}
    if "factor" in stored:
        factor = Decimal(str(stored["factor"]))
        stored["factor"] = int(factor) if factor == factor.to_integral_value() else float(factor)
    return stored
