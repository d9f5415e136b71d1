"""Marking Google classes, objects and messages pending: the fan-out's Google half.

Called inside the fan-out's transaction with the outbox rows it claimed. Each changed
card's object gets its generation bumped (or is created, the first time: that is the
insert an enrolment leads to), its program's class is created when missing, a changed
program's class is bumped, and a tier upgrade queues a notifying message.

An offer reaches Google only where a customer holds the card there: the cards it was
published to have their object patched, and an offer's message queued, only while the
object is saved and not removed (``saved``). An object Google keeps that nobody saved is
brought up to date when it is saved (``app.google_wallet.callbacks``), and a card with no
object gets one at enrolment, not from an offer: an offer to 100,000 cards of which a
tenth are in Google Wallet queues 20,000 requests, not 200,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.orm import Session

from app.bulk import among, insert_rows
from app.cards.models import Card, Customer
from app.google_wallet.account import GoogleAccount
from app.google_wallet.models import GoogleClass, GoogleMessage, GoogleObject
from app.i18n import gettext, using_locale
from app.merchants.models import Program
from app.offers.models import Offer
from app.texts import localized, tier_name

OBJECTS = cast(Table, GoogleObject.__table__)
CLASSES = cast(Table, GoogleClass.__table__)
MESSAGES = cast(Table, GoogleMessage.__table__)


def _pending(table: Table, now: datetime) -> dict[str, Any]:
    return {"status": "pending", "generation": table.c.generation + 1, "attempts": 0,
            "available_at": now, "last_error": None}


def mark_cards(session: Session, account: GoogleAccount, card_ids: Sequence[int],
               now: datetime) -> None:
    if not card_ids:
        return
    session.execute(update(OBJECTS).where(among(session, OBJECTS.c.card_id, card_ids))
                    .values(**_pending(OBJECTS, now)))
    known = set(session.scalars(select(OBJECTS.c.card_id)
                                .where(among(session, OBJECTS.c.card_id, card_ids))))
    unknown = [card_id for card_id in card_ids if card_id not in known]
    new = session.execute(select(Card.id, Card.program_id, Card.serial_number)
                          .where(among(session, Card.id, unknown))).all()
    # In bulk (COPY on PostgreSQL): an offer may reach 100,000 cards without an object.
    insert_rows(session, OBJECTS, [
        {"card_id": card_id, "program_id": program_id,
         "object_id": account.object_id(serial_number), "available_at": now,
         "status": "pending", "generation": 1, "synced_generation": 0, "attempts": 0,
         "inserted": False} for card_id, program_id, serial_number in new])
    ensure_classes(session, account, {program_id for _, program_id, _ in new}, now)


def saved() -> ColumnElement[bool]:
    """The object is in someone's Google Wallet: saved, and not removed since."""
    return OBJECTS.c.saved_at.is_not(None) & OBJECTS.c.removed_at.is_(None)


def mark_saved_objects(session: Session, card_ids: Sequence[int], now: datetime) -> None:
    """Bump the saved objects of ``card_ids`` (an offer's cards); no object is created."""
    if not card_ids:
        return
    session.execute(update(OBJECTS).where(among(session, OBJECTS.c.card_id, card_ids), saved())
                    .values(**_pending(OBJECTS, now)))


def with_saved_objects(session: Session, card_ids: Iterable[int]) -> set[int]:
    """Those of ``card_ids`` whose object is saved in someone's Google Wallet."""
    wanted = sorted(set(card_ids))
    if not wanted:
        return set()
    return set(session.scalars(select(OBJECTS.c.card_id).where(
        among(session, OBJECTS.c.card_id, wanted), saved())))


def ensure_classes(session: Session, account: GoogleAccount, program_ids: Iterable[int],
                   now: datetime) -> None:
    wanted = set(program_ids)
    if not wanted:
        return
    known = set(session.scalars(select(CLASSES.c.program_id)
                                .where(CLASSES.c.program_id.in_(wanted))))
    for program_id in sorted(wanted - known):
        session.add(GoogleClass(program_id=program_id, class_id=account.class_id(program_id),
                                available_at=now))
    session.flush()


def mark_programs(session: Session, account: GoogleAccount, program_ids: Sequence[int],
                  now: datetime) -> None:
    if not program_ids:
        return
    session.execute(update(CLASSES).where(CLASSES.c.program_id.in_(program_ids))
                    .values(**_pending(CLASSES, now)))
    ensure_classes(session, account, program_ids, now)


def _readers(session: Session, card_ids: Iterable[int]) -> dict[int, tuple[str, Program]]:
    """Each card's holder's language and its program, for the texts sent to that card."""
    rows = session.execute(
        select(Card.id, Customer.locale, Program).join(Customer, Customer.id == Card.customer_id)
        .join(Program, Program.id == Card.program_id)
        .where(among(session, Card.id, set(card_ids)))).all()
    return {row.id: (row.locale, row.Program) for row in rows}


def queue_tier_messages(session: Session, upgrades: Sequence[tuple[int, str]],
                        now: datetime) -> None:
    """One notifying message per tier upgrade (a card and its new tier's key), in the
    customer's language, naming the tier as it reads in that language."""
    if not upgrades:
        return
    readers = _readers(session, [card_id for card_id, _ in upgrades])
    for card_id, tier in upgrades:
        locale, program = readers[card_id]
        name = tier_name(program.tiers, tier, locale, program.locales) or tier
        with using_locale(locale):
            header = gettext("Welcome to %(tier)s", tier=name)[:200]
            body = gettext("Your card is now %(tier)s: you earn more with every purchase.",
                           tier=name)
        session.add(GoogleMessage(card_id=card_id, kind="tier", available_at=now,
                                  created_at=now, header=header, body=body))


def queue_offer_messages(session: Session, offered: Sequence[tuple[int, int]],
                         now: datetime) -> None:
    """A notifying message per (card, offer) published to a card whose object is saved:
    the offer's title and text in the customer's language."""
    held = with_saved_objects(session, [card_id for card_id, _ in offered])
    offered = [(card_id, offer_id) for card_id, offer_id in offered if card_id in held]
    if not offered:
        return
    offers = {offer.id: offer for offer in session.scalars(
        select(Offer).where(Offer.id.in_({offer_id for _, offer_id in offered})))}
    readers = _readers(session, [card_id for card_id, _ in offered])
    texts: dict[tuple[int, str, int], tuple[str, str]] = {}  # by offer, language, program
    rows = []
    for card_id, offer_id in offered:
        locale, program = readers[card_id]
        text = texts.get((offer_id, locale, program.id))
        if text is None:
            offer = offers[offer_id]
            title = localized(offer.title_given, locale, program.locales)
            body = localized(offer.body_given, locale, program.locales)
            text = texts[(offer_id, locale, program.id)] = (title, body or title)
        rows.append({"card_id": card_id, "kind": "offer", "offer_id": offer_id,
                     "available_at": now, "created_at": now, "header": text[0],
                     "body": text[1], "status": "pending", "attempts": 0, "notified": False,
                     "budget_spent": False})
    insert_rows(session, MESSAGES, rows)  # in bulk, as the objects above
