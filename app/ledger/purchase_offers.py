"""A purchase's offers that act at the till (``app.offers.mechanics``): which the card was
given, what they add, the coupon it names (``app.ledger.purchases``).

The hot path pays nothing for them unless its program has an offer with a mechanic
running now (its terms, cached per program version, list them: ``Terms.offers``) or the
purchase names a coupon: only then ``READ_CARD_OFFERS`` reads the card's offers with a
mechanic, running now, published to it and not held out, with whether it used each
coupon already (one more round trip). The coupon's redemption is written with the
purchase, in its statement (``app.ledger.purchase_rows.WRITE_PURCHASE``): a purchase
that finds the card changed since it read it writes nothing and runs again, so two
purchases of one card cannot both use its coupon; the unique (offer, card) stands behind.

Refusals (409, nothing written): a coupon that is not the card's, not running or not a
coupon, ``coupon_unavailable``; one used before, ``coupon_used``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import rows
from app.errors import Conflict
from app.offers.mechanics import COUPON, LiveOffer, Mechanic, offer_bonuses
from app.points.rules import PurchaseOutcome
from app.problem_codes import ProblemCode
from app.sql import SQL, Raw

COUPON_CONSTRAINT = "uq_coupon_redemptions_offer_card"


@dataclass(frozen=True, slots=True)
class CardOfferRow:
    """One of the card's offers with a mechanic: ``redemption_id`` names the card's use
    of it as a coupon, if any."""

    offer_id: int
    mechanic: Any  # JSON: SQLite's text (``Raw.read_json``)
    redemption_id: int | None


READ_CARD_OFFERS = SQL(
    "SELECT card_offers.offer_id AS offer_id, offers.mechanic AS mechanic,"
    " coupon_redemptions.id AS redemption_id FROM card_offers"
    " JOIN offers ON offers.id = card_offers.offer_id"
    " LEFT JOIN coupon_redemptions ON coupon_redemptions.offer_id = card_offers.offer_id"
    " AND coupon_redemptions.card_id = card_offers.card_id"
    " WHERE card_offers.card_id = :card_id AND NOT card_offers.held_out"
    " AND offers.status = 'published' AND offers.mechanic IS NOT NULL"
    " AND offers.starts_at <= :now AND (offers.ends_at IS NULL OR offers.ends_at > :now)")
COUPON_ROW = (
    "coupon_redemptions (offer_id, card_id, purchase_id, created_at)"
    " SELECT :coupon_id, :card_id, :purchase_id, :created_at")


def needs_offers(offers: tuple[LiveOffer, ...], coupon: int | None, now: datetime) -> bool:
    """Whether the purchase must read the card's offers (see above)."""
    return coupon is not None or any(offer.runs_at(now) for offer in offers)


def with_offers(raw: Raw, outcome: PurchaseOutcome, *, card_id: int, coupon: int | None,
                now: datetime) -> PurchaseOutcome:
    """The outcome with what the card's running offers give; raises ``Conflict`` for a
    coupon the card may not use."""
    found = [rows.read(CardOfferRow, row) for row in raw.all_without_begin(
        READ_CARD_OFFERS, {"card_id": card_id, "now": raw.time(now)})]
    granted = {row.offer_id: Mechanic.of(raw.read_json(row.mechanic)) for row in found}
    if coupon is not None:
        if coupon not in granted or granted[coupon].type != COUPON:
            raise Conflict("This card has no such coupon running now.",
                           code=ProblemCode.COUPON_UNAVAILABLE)
        if any(row.offer_id == coupon and row.redemption_id is not None for row in found):
            raise Conflict("This card used this coupon already.",
                           code=ProblemCode.COUPON_USED)
    bonuses = offer_bonuses(granted.items(), earned=outcome.earned, coupon=coupon)
    return dataclasses.replace(outcome, offer_bonuses=bonuses) if bonuses else outcome
