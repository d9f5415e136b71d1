"""Marking Google classes, objects and messages pending: the fan-out's Google half.

Called inside the fan-out's transaction with the outbox rows it claimed. A changed
program's class is bumped (or created when missing); a card with no object yet gets one
(that is the insert an enrolment leads to).

Google hears of a card's changes only while a customer holds its object
(``held_in_a_wallet``: saved, and not removed since), whatever the change: a purchase's
balance, a tier upgrade and its message, an offer and its message, a block, a deletion, a
re-signing (``hears_of_changes``, the one rule). An object nobody holds costs no request
after its insert, which every card needs (the save link names an object Google must
already have, so the insert cannot wait for the save); it is brought up to date when it is
saved (``app.google_wallet.callbacks``: one patch with the newest state; the messages it
missed are not sent, they would notify of old news). At a chain where a tenth of the
cards are in Google Wallet, a day's purchases or an offer to 100,000 cards queue a tenth
of the requests they would otherwise, and the customers who did save get theirs sooner.
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
from app.google_wallet.models import (
    GoogleClass,
    GoogleMessage,
    GoogleObject,
    held_in_a_wallet,
)
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
    """Changed cards: their objects that hear of changes bumped, and an object (and its
    program's class) made for each card that has none."""
    if not card_ids:
        return
    bump_objects(session, card_ids, now)
    known = set(session.scalars(select(OBJECTS.c.card_id)
                                .where(among(session, OBJECTS.c.card_id, card_ids))))
    unknown = [card_id for card_id in card_ids if card_id not in known]
    new = session.execute(select(Card.id, Card.program_id, Card.serial_number)
                          .where(among(session, Card.id, unknown))).all()
    # In bulk (COPY on PostgreSQL): an import may bring 100,000 cards without an object.
    insert_rows(session, OBJECTS, [
        {"card_id": card_id, "program_id": program_id,
         "object_id": account.object_id(serial_number), "available_at": now,
         "status": "pending", "generation": 1, "synced_generation": 0, "attempts": 0,
         "inserted": False} for card_id, program_id, serial_number in new])
    ensure_classes(session, account, {program_id for _, program_id, _ in new}, now)


def hears_of_changes() -> ColumnElement[bool]:
    """The objects a card's change is queued for: those held in a wallet, and those
    Google does not have yet (their insert, still owed, is built from the newest state
    when it is sent: a change costs it no request, and retries one that failed)."""
    return held_in_a_wallet() | OBJECTS.c.inserted.is_(False)


def bump_objects(session: Session, card_ids: Sequence[int], now: datetime) -> None:
    """Bump the objects of ``card_ids`` that hear of changes; no object is created (an
    offer's cards get no object from it)."""
    if not card_ids:
        return
    session.execute(update(OBJECTS).where(among(session, OBJECTS.c.card_id, card_ids),
                                          hears_of_changes())
                    .values(**_pending(OBJECTS, now)))


def with_held_objects(session: Session, card_ids: Iterable[int]) -> set[int]:
    """Those of ``card_ids`` whose object someone holds."""
    wanted = sorted(set(card_ids))
    if not wanted:
        return set()
    return set(session.scalars(select(OBJECTS.c.card_id).where(
        among(session, OBJECTS.c.card_id, wanted), held_in_a_wallet())))


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
    """One notifying message per tier upgrade (a card and its new tier's key) of a card
    whose object someone holds, in the customer's language, naming the tier as it reads
    in that language."""
    held = with_held_objects(session, [card_id for card_id, _ in upgrades])
    upgrades = [(card_id, tier) for card_id, tier in upgrades if card_id in held]
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
    """A notifying message per (card, offer) published to a card whose object someone
    holds: the offer's title and text in the customer's language."""
    held = with_held_objects(session, [card_id for card_id, _ in offered])
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
