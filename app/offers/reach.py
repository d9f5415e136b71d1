"""How far a published offer got: the cards it reached, their devices, and where each
push and Google message stands (``GET /api/v1/offers/{id}/reach``, the offer's page).

A device's push state is per pass, not per offer (changes to one pass merge into one
push, ``app.delivery.fanout``), so an offer counts a device of a card it reached as:
pending while its card waits for the fan-out (an offer's cards go a chunk at a time, in
card order: those past the offer's row's ``fanned_through``) or the registration waits to
be pushed; failed while its push is parked; sent once a push was delivered at or after
the offer was published. A device registered later, which fetched the pass with the
offer already on it, is in ``devices`` and none of the three. Google messages name
their offer (``GoogleMessage.offer_id``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select, true
from sqlalchemy.orm import Session

from app.devices.models import Registration
from app.google_wallet.models import GoogleMessage, GoogleObject, held_in_a_wallet
from app.merchants.models import Program
from app.offers.models import CardOffer, Offer
from app.offers.service import audience_size, get_offer
from app.outbox.messages import TOPIC_PROGRAM_UPDATED
from app.outbox.models import OutboxMessage


@dataclass(frozen=True)
class Delivery:
    """How many of something were sent, failed for good (parked) or are on their way."""

    sent: int = 0
    failed: int = 0
    pending: int = 0


@dataclass(frozen=True)
class OfferReach:
    cards: int = 0  # the audience, less the control group
    held_out: int = 0  # the control group (``audience.holdout_percent``)
    devices: int = 0  # Apple Wallet registrations of the cards reached
    pushes: Delivery = field(default_factory=Delivery)
    google_objects: int = 0  # the cards reached that are saved in Google Wallet
    google_messages: Delivery = field(default_factory=Delivery)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OfferOverview:
    """What the offer's page shows: the offer, its program, its reach, and (a draft)
    how many cards publishing it now would reach."""

    offer: Offer
    program: Program
    reach: OfferReach
    would_reach: int | None = None


def offer_overview(session: Session, *, merchant_id: int, offer_id: int) -> OfferOverview:
    """The merchant's offer with its program and reach (``NotFound`` for another's)."""
    offer = get_offer(session, merchant_id=merchant_id, offer_id=offer_id)
    program = session.get(Program, offer.program_id)
    assert program is not None  # an offer's program is never deleted
    would_reach = audience_size(session, offer=offer) if offer.status == "draft" else None
    return OfferOverview(offer, program, offer_reach(session, offer=offer), would_reach)


def offer_reach(session: Session, *, offer: Offer) -> OfferReach:
    """The figures of a published offer; all zero for a draft."""
    if offer.published_at is None:
        return OfferReach()
    reached = select(CardOffer.card_id).where(CardOffer.offer_id == offer.id,
                                              CardOffer.held_out.is_(False))
    counts = session.execute(
        select(func.count().label("targeted"),
               _count_of(CardOffer.held_out.is_(True)).label("held_out"))
        .where(CardOffer.offer_id == offer.id)).one()
    waiting = _fanned_through(session, offer)
    devices, pushes = _pushes(session, offer, reached, waiting)
    objects = session.scalar(select(func.count()).select_from(GoogleObject).where(
        GoogleObject.card_id.in_(reached), held_in_a_wallet())) or 0
    messages = _messages(session, offer)
    if waiting is not None:  # every held object not told yet is still to be told
        messages = Delivery(sent=messages.sent, failed=messages.failed,
                            pending=max(int(objects) - messages.sent - messages.failed, 0))
    return OfferReach(cards=int(counts.targeted) - int(counts.held_out),
                      held_out=int(counts.held_out), devices=devices, pushes=pushes,
                      google_objects=int(objects),
                      google_messages=messages)


def _fanned_through(session: Session, offer: Offer) -> int | None:
    """While the row that announces the offer is in the outbox, the last of its cards
    (by id) fanned out so far (0: none yet; ``app.delivery.fanout`` goes a chunk at a
    time, in card order); None once it is fanned out."""
    rows = session.execute(select(OutboxMessage.payload, OutboxMessage.fanned_through).where(
        OutboxMessage.program_id == offer.program_id,
        OutboxMessage.topic == TOPIC_PROGRAM_UPDATED, OutboxMessage.status == "pending"))
    return next((row.fanned_through or 0 for row in rows
                 if (row.payload or {}).get("offer_id") == offer.id), None)


def _pushes(session: Session, offer: Offer, reached: Any, through: int | None
            ) -> tuple[int, Delivery]:
    """The devices of the cards reached, and where their pushes stand; a device of a card
    the fan-out has not come to yet (past ``through``) is pending."""
    told = true() if through is None else Registration.card_id <= through
    delivered_since = and_(told, Registration.push_status == "idle",
                           Registration.last_push_result == "delivered",
                           Registration.last_push_at >= offer.published_at)
    row = session.execute(select(
        func.count().label("devices"), _count_of(delivered_since).label("sent"),
        _count_of(and_(told, Registration.push_status == "failed")).label("failed"),
        _count_of(or_(not_(told), Registration.push_status == "pending")).label("pending"),
    ).where(Registration.card_id.in_(reached))).one()
    return int(row.devices), Delivery(sent=int(row.sent), failed=int(row.failed),
                                      pending=int(row.pending))


def _count_of(condition: Any) -> Any:
    """How many rows meet ``condition`` (0, not NULL, when there are none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _messages(session: Session, offer: Offer) -> Delivery:
    rows = session.execute(select(GoogleMessage.status, func.count().label("how_many"))
                           .where(GoogleMessage.offer_id == offer.id)
                           .group_by(GoogleMessage.status)).all()
    by_status = {row.status: int(row.how_many) for row in rows}
    return Delivery(sent=by_status.get("sent", 0), failed=by_status.get("failed", 0),
                    pending=by_status.get("pending", 0))
