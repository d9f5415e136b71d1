"""Offers at the till, as the ORM reads them: a program's offers that act at the till
(cached with its terms by ``app.ledger.purchase_rows.ProgramTerms``), the coupons a card
may use now (the POS lookup, the cashier screen), and the program version a publish moves.

Invariant: the terms cache is keyed by the program's ``updated_at``, so whatever makes an
offer with a mechanic start acting (``publish``) moves it (``touch_program``); an offer
that ends or is withdrawn needs no move, since the purchase re-reads each card's offers
with their state and window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.merchants.models import Program
from app.offers.mechanics import COUPON, LiveOffer, Mechanic
from app.offers.models import CardOffer, CouponRedemption, Offer

PUBLISHED = "published"


def touch_program(session: Session, *, program_id: int, now: datetime) -> None:
    """A new version of the program (its cached terms are read again); no commit."""
    session.execute(update(Program).where(Program.id == program_id).values(updated_at=now))


def live_offers(session: Session, *, program_id: int, now: datetime) -> tuple[LiveOffer, ...]:
    """The program's published offers with a mechanic that have not ended by ``now``."""
    offers = session.scalars(select(Offer).where(
        Offer.program_id == program_id, Offer.status == PUBLISHED,
        Offer.mechanic.is_not(None), or_(Offer.ends_at.is_(None), Offer.ends_at > now)))
    return tuple(LiveOffer(offer.id, Mechanic.of(offer.mechanic), offer.starts_at,
                           offer.ends_at) for offer in offers if offer.mechanic)


@dataclass(frozen=True)
class CardCoupon:
    """A coupon the card may use now: the offer's id (what a purchase names), its title
    in the program's first language, and what it gives."""

    offer_id: int
    title: str
    points: int
    text: str


def card_coupons(session: Session, *, card_id: int, now: datetime) -> list[CardCoupon]:
    """The coupons published to the card (not held out), running now, not used yet."""
    used = select(CouponRedemption.offer_id).where(CouponRedemption.card_id == card_id)
    offers = session.scalars(
        select(Offer).join(CardOffer, CardOffer.offer_id == Offer.id)
        .where(CardOffer.card_id == card_id, CardOffer.held_out.is_(False),
               Offer.status == PUBLISHED, Offer.mechanic.is_not(None),
               Offer.starts_at <= now, or_(Offer.ends_at.is_(None), Offer.ends_at > now),
               Offer.id.not_in(used))
        .order_by(Offer.id))
    coupons = []
    for offer in offers:
        mechanic = Mechanic.of(offer.mechanic or {})
        if mechanic.type == COUPON:
            coupons.append(CardCoupon(offer.id, offer.title, mechanic.points, mechanic.text))
    return coupons
