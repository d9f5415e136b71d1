"""The cashier screen's use cases (the dashboard's ``/dashboard/cashier``): a staff member
signed in at the counter finds a card and records purchases and refunds on it.

They are the POS API's own: a card is found as ``POST /pos/lookup`` finds it (its number
typed with or without spaces, a scanned barcode, an old number from an import), or by its
holder's phone through the customer search; a purchase is ``purchases.record_purchase``
with the member as ``SignedIn`` and a refund is ``service.refund_purchase``, so velocity
limits, the cashier's points limit, idempotency and location checks apply as they do to
a key.

Invariants: a member acts for their merchant only (another merchant's card or purchase is
a 404); where they record is one of their locations (``staff_locations``; a member limited
to one records there, one with several names one, one limited to none may name any of the
merchant's or none); each write carries the idempotency key the page generated for the
attempt, so sending the same form twice records once and shows the first answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card, CardStatus
from app.cards.search import search_cards
from app.cards.service import card_by_scan
from app.clock import utcnow
from app.errors import Invalid, NotFound
from app.ledger import purchases
from app.ledger import service as ledger
from app.ledger.idempotency import Answer, request_hash
from app.ledger.models import Purchase
from app.ledger.purchase_rows import SignedIn
from app.ledger.schemas import PurchaseInput, RefundInput
from app.merchants.access import Principal, check_location
from app.merchants.models import Location, Program
from app.offers.models import Offer
from app.offers.service import current_offers
from app.offers.till import CardCoupon, card_coupons
from app.points.postings import Actor, program_rules
from app.points.rules import max_redeemable
from app.problem_codes import ProblemCode

FOUND_AT_MOST = 8  # a short list to pick from, found by a phone number
RECENT_PURCHASES = 5  # the card's last purchases, offered for a refund


@dataclass(frozen=True)
class CounterCard:
    """A card as the cashier sees it, with what they may do with it."""

    card: Card
    program: Program
    redeemable_points: int
    offers: list[Offer]
    coupons: list[CardCoupon]  # it may use now (``app.offers.till``)
    purchases: list[Purchase]  # the last ones, newest first
    locations: list[Location]  # where this member may record a purchase


@dataclass(frozen=True)
class Sale:
    """What the cashier asked to record: the amount in minor units, what to redeem, where."""

    amount: int
    redeem_points: int
    redeem_rewards: int
    location_id: int | None
    coupon: int | None = None  # a coupon of the card's (its offer's id), used now


def find_cards(session: Session, *, principal: Principal, text: str, keys: Sequence[bytes]
               ) -> list[Card]:
    """The cards ``text`` stands for: the one its number, barcode or old number names, or
    else the cards whose holder's phone ends with its digits (at most ``FOUND_AT_MOST``)."""
    try:
        return [card_by_scan(session, merchant_id=principal.merchant_id, scanned=text,
                             keys=keys)]
    except NotFound:
        pass
    programs = session.scalars(select(Program).where(
        Program.merchant_id == principal.merchant_id).order_by(Program.id))
    # A member limited to locations finds by phone the cards enrolled there, as a key
    # bound to one does (``app.cards.search``); a card or its barcode finds any card.
    found: list[Card] = []
    for program in programs:
        page = search_cards(session, program=program, query=text, limit=FOUND_AT_MOST,
                            locations=principal.locations)
        found += [card for card in page.cards if card.customer.phone]
    return found[:FOUND_AT_MOST]


def counter_card(session: Session, *, principal: Principal, card_id: int) -> CounterCard:
    """The merchant's card ``card_id`` with its balance, offers, redeemable points, last
    purchases and the locations the member may record at; 404 for any other."""
    card = _card(session, principal, card_id)
    redeemable = 0
    if card.status == CardStatus.ACTIVE:
        redeemable = max_redeemable(program_rules(card.program), balance=card.balance,
                                    amount=None)
    recent = list(session.scalars(select(Purchase).where(Purchase.card_id == card.id)
                                  .order_by(Purchase.id.desc()).limit(RECENT_PURCHASES)))
    return CounterCard(card=card, program=card.program, redeemable_points=redeemable,
                       offers=current_offers(session, card_id=card.id),
                       coupons=card_coupons(session, card_id=card.id, now=utcnow())
                       if card.status == CardStatus.ACTIVE else [], purchases=recent,
                       locations=_locations(session, principal))


def purchase_card(session: Session, *, principal: Principal, purchase_id: int) -> int:
    """The card of the merchant's purchase ``purchase_id``; 404 for any other."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or purchase.merchant_id != principal.merchant_id:
        raise NotFound("No such purchase.")
    return purchase.card_id


def record_sale(session: Callable[[], Session], *, lane: purchases.Lane,
                principal: Principal, card_id: int, sale: Sale, key: str,
                keys: Sequence[bytes]) -> Answer:
    """The purchase on the card, recorded by the counter's own use case (see above); the
    same ``key`` with the same sale answers the first purchase again (``replayed``)."""
    card = _card(session(), principal, card_id)
    where = _where(session(), principal, sale.location_id)
    data = PurchaseInput(barcode=card.number, amount=sale.amount,
                         redeem_points=sale.redeem_points, redeem_rewards=sale.redeem_rewards,
                         location_id=where, coupon=sale.coupon)
    actor = _actor(principal, where)
    fingerprint = request_hash("POST", f"cashier/cards/{card.id}/purchases",
                               data.model_dump(mode="json"))
    return purchases.record_purchase(
        session, lane=lane, presented=SignedIn(principal.merchant_id),
        admit=lambda raw, row: actor, data=data, key=key, fingerprint=fingerprint,
        keys=keys)


def refund_sale(session: Session, *, principal: Principal, purchase_id: int,
                amount: int | None, location_id: int | None, key: str) -> Answer:
    """The purchase refunded (whole when ``amount`` is None) by the ledger's own refund;
    a cashier refunds purchases made where they record."""
    where = _where(session, principal, location_id)
    data = RefundInput(amount=amount, reason="refund at the counter")
    fingerprint = request_hash("POST", f"cashier/purchases/{purchase_id}/refund",
                               data.model_dump(mode="json"))
    return ledger.refund_purchase(session, actor=_actor(principal, where),
                                  purchase_id=purchase_id, data=data, key=key,
                                  fingerprint=fingerprint)


def _card(session: Session, principal: Principal, card_id: int) -> Card:
    # As the database holds it now: the session does not expire what it read at a commit,
    # and the purchase writes the card's figures by hand-written SQL.
    card = session.get(Card, card_id, populate_existing=True)
    if card is None or card.merchant_id != principal.merchant_id:
        raise NotFound("No such card.")
    return card


def _locations(session: Session, principal: Principal) -> list[Location]:
    query = select(Location).where(Location.merchant_id == principal.merchant_id)
    if principal.limited:
        query = query.where(Location.id.in_(principal.locations))
    return list(session.scalars(query.order_by(Location.name, Location.id)))


def _where(session: Session, principal: Principal, asked: int | None) -> int | None:
    """Where the member records: their one location, or the one they named if they may."""
    if asked is None and len(principal.locations) == 1:
        return next(iter(principal.locations))
    check_location(principal, asked, doing="This staff member records at their own "
                                           "locations only.")
    if asked is not None and asked not in {place.id for place in
                                           _locations(session, principal)}:
        raise Invalid("location_id: no such location.", code=ProblemCode.UNKNOWN_LOCATION,
                      errors=[{"field": "location_id", "message": "no such location"}])
    return asked


def _actor(principal: Principal, where: int | None) -> Actor:
    """The member as the ledger's writes name them: a member limited to locations acts
    bound to the one they record at, as a key bound to it would."""
    return Actor(merchant_id=principal.merchant_id, staff_id=principal.staff_id,
                 location_id=where if principal.limited else None, role=principal.role)
