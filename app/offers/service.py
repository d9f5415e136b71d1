"""Creating, listing and publishing offers, and the offers a card shows now."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from app.analytics.models import SEGMENTS, CardSegment
from app.bulk import among, insert_rows
from app.cards.models import Card, Customer, next_pass_stamps
from app.clock import iso, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.merchants.access import Principal
from app.merchants.accounts import Where, record_event
from app.merchants.models import Program
from app.offers.mechanics import Mechanic, stored_mechanic
from app.offers.models import SHOWN_OFFERS, CardOffer, Offer
from app.offers.schemas import OfferCreate, naive_utc
from app.offers.till import touch_program
from app.outbox.messages import program_changed
from app.outbox.webhooks import OFFER_PUBLISHED as EVENT_OFFER_PUBLISHED
from app.outbox.webhooks import webhook_event
from app.problem_codes import ProblemCode
from app.texts import in_every_locale, is_per_locale, localized, program_text_faults, tier_key

OFFER_CREATED, OFFER_PUBLISHED = "offer.created", "offer.published"  # in the staff log
CARDS = cast(Table, Card.__table__)
CARD_OFFERS = cast(Table, CardOffer.__table__)


def create_offer(session: Session, *, program: Program, data: OfferCreate,
                 by: Principal | None = None, where: Where | None = None) -> Offer:
    """A draft offer; with ``by`` (a member in the dashboard) the staff action log
    records who wrote it."""
    locales = program.locales or ["en"]
    faults = [*program_text_faults("title", data.title, locales),
              *program_text_faults("body", data.body, locales)]
    if faults:
        raise Invalid(f"{faults[0]['field']}: {faults[0]['message']}.", errors=faults)
    known_tiers = {tier_key(tier) for tier in program.tiers}
    unknown = [name for name in data.audience.tiers or () if name not in known_tiers]
    if unknown:
        raise Invalid(f"audience.tiers: the program has no tier {unknown[0]!r} (tiers are "
                      "named by their key).",
                      errors=[{"field": "audience.tiers", "message": "unknown tier"}])
    unknown = [name for name in data.audience.segments or () if name not in SEGMENTS]
    if unknown:
        raise Invalid(f"audience.segments: there is no segment {unknown[0]!r}; segments are "
                      f"{', '.join(SEGMENTS)}.", code=ProblemCode.UNKNOWN_SEGMENT,
                      errors=[{"field": "audience.segments", "message": "unknown segment"}])
    mechanic = data.mechanic.model_dump() if data.mechanic is not None else None
    if program.kind != "points" and mechanic is not None and Mechanic.of(mechanic).gives_points:
        raise Invalid("mechanic: a stamps program's cards hold stamps, not points; its offers "
                      "may be coupons with a text only.",
                      errors=[{"field": "mechanic", "message": "points in a stamps program"}])
    offer = Offer(merchant_id=program.merchant_id, program_id=program.id,
                  title=localized(data.title, locales[0], locales),
                  title_texts=data.title if is_per_locale(data.title) else None,
                  body=localized(data.body, locales[0], locales),
                  body_texts=data.body if is_per_locale(data.body) else None,
                  starts_at=naive_utc(data.starts_at) or utcnow(),
                  ends_at=naive_utc(data.ends_at), promotional=data.promotional,
                  audience=data.audience.model_dump(exclude_none=True),
                  mechanic=stored_mechanic(mechanic))
    session.add(offer)
    if by is not None and by.staff_id is not None:
        session.flush()
        record_event(session, merchant_id=program.merchant_id, actor_staff_id=by.staff_id,
                     action=OFFER_CREATED, where=where or Where(), offer=offer.id)
    session.commit()
    return offer


def get_offer(session: Session, *, merchant_id: int, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.merchant_id != merchant_id:
        raise NotFound("No such offer.")
    return offer


def list_offers(session: Session, *, program: Program) -> list[Offer]:
    return list(session.scalars(select(Offer).where(Offer.program_id == program.id)
                                .order_by(Offer.id.desc())))


@dataclass(frozen=True)
class ProgramOffers:
    """A program and its offers, newest first (the dashboard's offers page)."""

    program: Program
    offers: list[Offer]


def offers_by_program(session: Session, *, merchant_id: int) -> list[ProgramOffers]:
    programs = session.scalars(select(Program).where(Program.merchant_id == merchant_id)
                               .order_by(Program.id)).all()
    found = session.scalars(select(Offer).where(Offer.merchant_id == merchant_id)
                            .order_by(Offer.id.desc())).all()
    return [ProgramOffers(program, [offer for offer in found if offer.program_id == program.id])
            for program in programs]


def offer_status(offer: Offer, now: datetime | None = None) -> str:
    """``draft``, ``scheduled``, ``active`` or ``ended`` (a published offer whose end
    passed reads as ended before the worker's round ends it)."""
    now = now or utcnow()
    if offer.status != "published":
        return offer.status
    return "ended" if offer.ends_at is not None and offer.ends_at <= now else "active"


@dataclass(frozen=True)
class Publication:
    """What publishing did: the cards it reached now (none while ``scheduled``)."""

    cards: int
    status: str  # "published", or "scheduled" when the offer starts later


def publish(session: Session, *, offer: Offer, by: Principal | None = None,
            where: Where | None = None) -> Publication:
    """Publish to the audience now, or, when the offer starts later, schedule it (the
    worker publishes it when it starts: ``app.offers.schedule``). With ``by`` (a member
    in the dashboard) the staff action log records who did."""
    now = utcnow()
    locked = session.scalar(select(Offer).where(Offer.id == offer.id).with_for_update()
                            .execution_options(populate_existing=True))
    assert locked is not None
    if locked.status != "draft":
        raise Conflict("This offer was published already.", code=ProblemCode.OFFER_PUBLISHED)
    if locked.ends_at is not None and locked.ends_at <= now:
        raise Conflict("This offer has ended.", code=ProblemCode.OFFER_ENDED)
    reached = 0
    if locked.starts_at > now:
        locked.status = "scheduled"
    else:
        reached = deliver_offer(session, offer=locked, now=now)
    if by is not None and by.staff_id is not None:
        record_event(session, merchant_id=locked.merchant_id, actor_staff_id=by.staff_id,
                     action=OFFER_PUBLISHED, where=where or Where(), offer=locked.id,
                     cards=reached)
    session.commit()
    return Publication(reached, locked.status)


def deliver_offer(session: Session, *, offer: Offer, now: datetime) -> int:
    """In the caller's transaction: record the audience (and its control group), mark
    the offer published and queue the push, whose fan-out bumps the passes of the cards
    reached in the same transaction as it marks their devices pending (one UPDATE of
    every card reached: seconds at 100,000, kept out of the publish request); returns how
    many cards it reached. The caller holds the offer (locked, or claimed from
    ``scheduled``)."""
    targeted = _audience(session, offer, now)
    holdout = int(offer.audience.get("holdout_percent") or 0)
    held = {card_id for card_id in targeted if _held_out(offer.id, card_id, holdout)}
    # COPY on PostgreSQL: an offer may reach a million cards in this one transaction.
    insert_rows(session, CARD_OFFERS, [
        {"offer_id": offer.id, "card_id": card_id, "held_out": card_id in held,
         "created_at": now} for card_id in targeted])
    reached = [card_id for card_id in targeted if card_id not in held]
    offer.status, offer.published_at = "published", now
    if offer.mechanic is not None:
        # The purchase reads a program's offers with its terms, cached by its version.
        touch_program(session, program_id=offer.program_id, now=now)
    program_changed(session, merchant_id=offer.merchant_id, program_id=offer.program_id,
                    reason="offer", offer_id=offer.id, bump=True)
    webhook_event(session, merchant_id=offer.merchant_id, event_type=EVENT_OFFER_PUBLISHED,
                  card_id=None, data={"offer_id": offer.id, "program_id": offer.program_id,
                                      "title": offer.title, "cards": len(reached),
                                      "held_out": len(held), "published_at": iso(now)})
    return len(reached)


def audience_size(session: Session, *, offer: Offer) -> int:
    """How many cards publishing the draft now would reach (its control group aside),
    by the rules ``publish`` applies."""
    targeted = _audience(session, offer, utcnow())
    holdout = int(offer.audience.get("holdout_percent") or 0)
    return sum(1 for card_id in targeted if not _held_out(offer.id, card_id, holdout))


def _audience(session: Session, offer: Offer, now: datetime) -> list[int]:
    query = select(Card.id).where(Card.program_id == offer.program_id,
                                  Card.status == "active")
    audience = offer.audience
    if audience.get("tiers"):
        query = query.where(Card.tier.in_(audience["tiers"]))
    if audience.get("segments"):
        # As last computed (``app.analytics.segments``): a card never scored is in none.
        query = query.where(Card.id.in_(select(CardSegment.card_id).where(
            CardSegment.program_id == offer.program_id,
            CardSegment.segment.in_(audience["segments"]))))
    if audience.get("inactive_days"):
        since = now - timedelta(days=int(audience["inactive_days"]))
        query = query.where(or_(Card.last_visit_at.is_(None), Card.last_visit_at < since))
    if offer.promotional:
        # Marketing reaches only those who said yes to it.
        query = query.join(Customer, Customer.id == Card.customer_id).where(
            Customer.marketing_consent.is_(True))
    return list(session.scalars(query.order_by(Card.id)))


def in_control_group(offer_id: int, card_id: int, percent: int) -> bool:
    """Whether the card is in the offer's control group of ``percent`` (also for the
    sends of automatic offers, ``app.automations``)."""
    return _held_out(offer_id, card_id, percent)


def _held_out(offer_id: int, card_id: int, percent: int) -> bool:
    """The control group: a stable share of the audience, the same on every run."""
    digest = hashlib.sha256(f"{offer_id}:{card_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def bump_passes(session: Session, card_ids: list[int], *, now: datetime | None = None
                ) -> None:
    """A newer pass version, tag and Last-Modified for each card, as
    ``next_pass_stamps`` makes them; on PostgreSQL in one statement, which a publish to
    100,000 cards took 30 s and more to send row by row."""
    if not card_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        now = now or utcnow()
        session.execute(update(CARDS).where(among(session, CARDS.c.id, card_ids)).values(
            pass_version=CARDS.c.pass_version + 1,
            pass_updated_at=func.greatest(
                now, CARDS.c.pass_updated_at + timedelta(microseconds=1)),
            pass_last_modified=func.greatest(
                now.replace(microsecond=0), CARDS.c.pass_last_modified + timedelta(seconds=1))))
        return
    rows = session.execute(select(Card.id, Card.pass_version, Card.pass_updated_at,
                                  Card.pass_last_modified)
                           .where(among(session, Card.id, card_ids))).all()
    updates = []
    for card_id, version, tag, last_modified in rows:
        version, tag, last_modified = next_pass_stamps(version, tag, last_modified)
        updates.append({"card": card_id, "pass_version": version, "pass_updated_at": tag,
                        "pass_last_modified": last_modified})
    session.execute(update(CARDS).where(CARDS.c.id == bindparam("card")), updates)


def current_offers(session: Session, *, card_id: int, now: datetime | None = None
                   ) -> list[Offer]:
    """What the card's pass shows: published to it, not held out, not ended, not expired
    on this card (an automatic offer's send lasts a while); newest first."""
    now = now or utcnow()
    return list(session.scalars(
        select(Offer).join(CardOffer, CardOffer.offer_id == Offer.id)
        .where(CardOffer.card_id == card_id, CardOffer.held_out.is_(False),
               Offer.status == "published",
               or_(Offer.ends_at.is_(None), Offer.ends_at > now),
               or_(CardOffer.expires_at.is_(None), CardOffer.expires_at > now))
        .order_by(CardOffer.created_at.desc(), Offer.id.desc()).limit(SHOWN_OFFERS)))


def offer_json(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id, "program_id": offer.program_id, "title": offer.title_given,
        "body": offer.body_given, "starts_at": iso(offer.starts_at), "ends_at": iso(offer.ends_at),
        "audience": offer.audience, "promotional": offer.promotional,
        "status": offer_status(offer), "published_at": iso(offer.published_at),
        "automatic": offer.automatic,
        "ended_at": iso(offer.ended_at),
        "mechanic": offer.mechanic,
    }


def shown_offers(session: Session, card: Card) -> list[dict[str, str]]:
    """The titles a pass shows for the card's current offers, each in every language of
    the program (``{locale: title}``; a pass carries them all in its strings files, so
    each phone reads its own language's)."""
    locales = tuple(card.program.locales) or ("en",)
    return [in_every_locale(offer.title_given, locales)
            for offer in current_offers(session, card_id=card.id)]
