"""Offers that start and end by the clock (the worker's periodic jobs,
``app.delivery.housekeeping``) and ending an offer by hand.

Invariants: a scheduled offer is published once, when its start has come, to its
audience as it is then: each is claimed by a guarded ``UPDATE … WHERE status =
'scheduled'``, so however many workers run the job at once only one publishes it, each
offer in a transaction of its own. An offer ends once: a guarded ``UPDATE`` from
``published`` (or ``scheduled``, which was never on a pass) to ``ended`` claims it; the
passes of the cards it reached are bumped and one outbox row pushes them (the pass no
longer lists it; no message announces it), in the same transaction. Ending by hand also
moves ``ends_at`` to now, so the results measure the window it really had.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.errors import Conflict
from app.offers.models import CardOffer, Offer
from app.offers.service import bump_passes, deliver_offer
from app.outbox.messages import REASON_OFFER_ENDED, program_changed
from app.problem_codes import ProblemCode

BATCH = 100  # offers per round of each job; the next round takes the rest


def publish_due_offers(session: Session, *, now: datetime | None = None) -> int:
    """Publish every scheduled offer whose start has come (and end has not); returns how
    many this call published."""
    now = now or utcnow()
    due = list(session.scalars(
        select(Offer.id).where(Offer.status == "scheduled", Offer.starts_at <= now,
                               or_(Offer.ends_at.is_(None), Offer.ends_at > now))
        .order_by(Offer.starts_at, Offer.id).limit(BATCH)))
    session.rollback()
    published = 0
    for offer_id in due:
        if not _claim(session, offer_id, "scheduled", now, published_at=now):
            session.rollback()  # another worker published it
            continue
        offer = session.get(Offer, offer_id, populate_existing=True)
        assert offer is not None
        deliver_offer(session, offer=offer, now=now)
        session.commit()
        published += 1
    return published


def end_due_offers(session: Session, *, now: datetime | None = None) -> int:
    """End every published or scheduled offer whose end has passed; returns how many."""
    now = now or utcnow()
    due = list(session.scalars(
        select(Offer.id).where(Offer.status.in_(("published", "scheduled")),
                               Offer.ends_at <= now)
        .order_by(Offer.ends_at, Offer.id).limit(BATCH)))
    session.rollback()
    ended = 0
    for offer_id in due:
        if _end(session, offer_id, now) is None:
            session.rollback()
            continue
        session.commit()
        ended += 1
    return ended


def end_offer(session: Session, *, offer: Offer, now: datetime | None = None) -> int:
    """End a published or scheduled offer now (``POST /api/v1/offers/{id}/end``): it
    leaves every pass it was on; returns how many passes were bumped and pushed."""
    now = now or utcnow()
    bumped = _end(session, offer.id, now)
    if bumped is None:
        session.rollback()
        status = session.scalar(select(Offer.status).where(Offer.id == offer.id))
        if status == "draft":
            raise Conflict("This offer was never published: there is nothing to end.",
                           code=ProblemCode.OFFER_NOT_PUBLISHED)
        raise Conflict("This offer has ended already.", code=ProblemCode.OFFER_ENDED)
    session.commit()
    session.refresh(offer)
    return bumped


def _end(session: Session, offer_id: int, now: datetime) -> int | None:
    """Claim and end the offer in the caller's transaction; the passes bumped, or None
    when it was not published or scheduled (a draft, or ended already)."""
    if _claim(session, offer_id, "published", now, ended=True):
        offer = session.get(Offer, offer_id, populate_existing=True)
        assert offer is not None
        reached = list(session.scalars(select(CardOffer.card_id).where(
            CardOffer.offer_id == offer_id, CardOffer.held_out.is_(False))))
        bump_passes(session, reached)
        program_changed(session, merchant_id=offer.merchant_id, program_id=offer.program_id,
                        reason=REASON_OFFER_ENDED, offer_id=offer_id)
        return len(reached)
    if _claim(session, offer_id, "scheduled", now, ended=True):
        return 0  # it never reached a pass
    return None


def _claim(session: Session, offer_id: int, status: str, now: datetime, *,
           ended: bool = False, published_at: datetime | None = None) -> bool:
    """Move the offer on from ``status`` (to ``ended``, or else ``published``); whether
    this transaction did."""
    values: dict[str, object] = {"status": "ended", "ended_at": now, "ends_at": case(
        (or_(Offer.ends_at.is_(None), Offer.ends_at > now), now), else_=Offer.ends_at)
    } if ended else {"status": "published", "published_at": published_at}
    result = session.execute(update(Offer).where(Offer.id == offer_id, Offer.status == status)
                             .values(**values).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))
