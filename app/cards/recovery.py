"""The public join form as a use case, and the one-time links that open a returning
customer's card.

A customer is one person per merchant, matched on either contact: a join whose email or
phone the merchant knows is that customer's (the email's when the two name different
customers: people share phones more than mailboxes), never a second card with a second
welcome bonus. What the form held beyond the match (a new phone next to a known email,
a new email next to a known phone, another name, a birthday, a consent) is not dropped
silently and not stored either: it rides on the mailed link, and the mailbox's owner
may tick it into their record when they open the link (``app.cards.details``). A
customer with a phone only has no mailbox to ask: they are sent to the counter, and what
they typed is not kept (they can add an email on their card's page).

Invariants:

- A join with an email or phone the merchant already knows creates and changes no
  customer or card (no card, no name, contact or consent), and its answer names nothing
  of the customer: ``Reply.LINK_MAILED`` when they have an email on file (a link is
  mailed there) or ``Reply.ASK_AT_COUNTER`` when they have a phone only. Over the
  per-customer
  limit (``MAILS_PER_HOUR``, counted from the links) no link and no mail are made and the
  answer is the same, so the page cannot tell whether a mail went out. The same holds
  when the caller's ``mail_allowed`` says no (the web's per-client-address budget, so
  that one address cannot mail many customers).
- A link is a row; the mail carries its id and a MAC (``Wallet.recovery_url``). It opens
  once, within ``LINK_LIFETIME``: one conditional UPDATE consumes it, so two clicks
  racing give one card page. A customer with no card in the link's program is enrolled
  in it when the link is opened (by the mailbox's owner), not when it was asked for.
- A link keeps what it proposed (``proposed_*``) and the requesting client's address
  only while it may still be opened: ``purge_expired_links`` (the worker's housekeeping,
  ``loyalpass cards purge-links``) erases both from links past ``expires_at``. The row
  itself stays, so the per-customer limit still counts it and its page can still say
  that it expired.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cards import details
from app.cards.contacts import Contact, read_contact
from app.cards.models import Card, CardRecoveryLink, Customer
from app.cards.schemas import EnrolmentInput
from app.cards.service import card_of, create_card, find_customer, new_customer
from app.clock import utcnow
from app.errors import Gone
from app.merchants.models import Program
from app.outbox.messages import queue_mail
from app.outbox.models import MAIL_KIND_CARD_RECOVERY
from app.problem_codes import ProblemCode

log = logging.getLogger("loyalpass.recovery")

LINK_LIFETIME = timedelta(minutes=30)
LINK_MINUTES = int(LINK_LIFETIME.total_seconds() // 60)  # as pages and mails say it
MAILS_PER_HOUR = 3  # recovery links (and so mails) per customer in any hour
RATE_WINDOW = timedelta(hours=1)


class Reply(enum.Enum):
    """What the join form answers."""

    CARD_CREATED = "card_created"  # a new customer: show their new card
    LINK_MAILED = "link_mailed"  # known, with an email on file: "check your mail"
    ASK_AT_COUNTER = "ask_at_counter"  # known, with a phone only: "ask at the counter"


@dataclass(frozen=True)
class Joined:
    reply: Reply
    card: Card | None = None  # the new card, with CARD_CREATED only


class LinkState(enum.Enum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"


def join(session: Session, *, program: Program, data: EnrolmentInput,
         location_id: int | None = None, source: str | None = None,
         requested_from: str | None = None, enrolled_from: str | None = None,
         mail_allowed: Callable[[], bool] = lambda: True,
         now: datetime | None = None) -> Joined:
    """The join form: a new customer gets a card; a known one gets a mailed link or is
    sent to the counter (see the module's invariants). The card, or the link that may
    enrol them later, is attributed to ``location_id`` and ``source``
    (``app.cards.attribution``); a new card keeps ``enrolled_from``, the digest of where
    the form was sent from (``enrolment_origin``). ``ContactInvalid`` when the contact is
    not what the program asks for."""
    contact = read_contact(program, email=data.email, phone=data.phone)
    email, phone = contact.email, contact.phone
    customer = find_customer(session, program.merchant_id, email, phone)
    if customer is None:
        try:
            created = new_customer(session, program, data, contact)
            card = create_card(session, program, created, location_id, source,
                               enrolled_from)
            session.commit()
            return Joined(Reply.CARD_CREATED, card)
        except IntegrityError:
            # The same person's other submit won the race: they are known now.
            session.rollback()
            customer = find_customer(session, program.merchant_id, email, phone)
            if customer is None:
                raise
    reply = _returning(session, program, customer, Typed(data, contact),
                       location_id=location_id, source=source,
                       locale=data.locale or customer.locale, requested_from=requested_from,
                       mail_allowed=mail_allowed, now=now or utcnow())
    session.commit()
    return Joined(reply)


@dataclass(frozen=True)
class Typed:
    """What a returning customer's form held: offered to them on the link."""

    data: EnrolmentInput
    contact: Contact


def _returning(session: Session, program: Program, customer: Customer, typed: Typed, *,
               location_id: int | None, source: str | None, locale: str,
               requested_from: str | None,
               mail_allowed: Callable[[], bool], now: datetime) -> Reply:
    if customer.email is None:
        return Reply.ASK_AT_COUNTER
    # One request per customer at a time (SQLite's BEGIN IMMEDIATE does this already),
    # so that racing requests cannot both pass the limit.
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    recent = session.scalar(
        select(func.count()).select_from(CardRecoveryLink).where(
            CardRecoveryLink.customer_id == customer.id,
            CardRecoveryLink.created_at > now - RATE_WINDOW)) or 0
    if recent >= MAILS_PER_HOUR:
        log.info("recovery: customer %d asked again; %d links this hour already, no mail",
                 customer.id, recent)
        return Reply.LINK_MAILED
    if not mail_allowed():
        log.info("recovery: customer %d asked from an address past its mail budget; no mail",
                 customer.id)
        return Reply.LINK_MAILED
    card = card_of(session, program_id=program.id, customer_id=customer.id)
    link = CardRecoveryLink(
        merchant_id=program.merchant_id, program_id=program.id, customer_id=customer.id,
        card_id=card.id if card is not None else None, location_id=location_id,
        source=source, locale=locale, requested_from=(requested_from or "")[:64] or None,
        created_at=now, expires_at=now + LINK_LIFETIME)
    details.propose(session, link, customer, typed.data, typed.contact)
    session.add(link)
    session.flush()
    queue_mail(session, merchant_id=program.merchant_id, customer_id=customer.id,
               kind=MAIL_KIND_CARD_RECOVERY, recipient=customer.email, locale=locale,
               recovery_link_id=link.id)
    return Reply.LINK_MAILED


def find_link(session: Session, *, link_id: int) -> CardRecoveryLink | None:
    return session.get(CardRecoveryLink, link_id)


def link_state(link: CardRecoveryLink, *, now: datetime | None = None) -> LinkState:
    if link.used_at is not None:
        return LinkState.USED
    if link.expires_at <= (now or utcnow()):
        return LinkState.EXPIRED
    return LinkState.OPEN


def open_link(session: Session, *, link_id: int,
              accept: frozenset[details.Detail] = frozenset(),
              now: datetime | None = None) -> Card:
    """Consume the link and return the card it opens (enrolling the customer in the
    link's program when they have no card there), storing the offered details the
    owner ticked (``accept``); ``Gone`` when used or expired."""
    now = now or utcnow()
    try:
        return _consume(session, link_id, accept, now)
    except IntegrityError:
        # The merchant enrolled them at this very moment (open that card instead), or
        # another customer took a ticked contact (``store_accepted`` skips it now).
        session.rollback()
        return _consume(session, link_id, accept, now)


def _consume(session: Session, link_id: int, accept: frozenset[details.Detail],
             now: datetime) -> Card:
    consumed = session.execute(
        update(CardRecoveryLink)
        .where(CardRecoveryLink.id == link_id, CardRecoveryLink.used_at.is_(None),
               CardRecoveryLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if getattr(consumed, "rowcount", 0) != 1:
        session.rollback()
        raise Gone("This link has been used or has expired.", code=ProblemCode.LINK_GONE)
    link = session.get(CardRecoveryLink, link_id, populate_existing=True)
    assert link is not None
    changed = details.store_accepted(session, link, accept)
    card = card_of(session, program_id=link.program_id, customer_id=link.customer_id)
    if card is None:
        card = create_card(session, link.program, link.customer, link.location_id,
                           link.source)
    details.audit(session, link, card, changed)
    session.commit()
    return card


def purge_expired_links(session: Session, *, now: datetime | None = None) -> int:
    """Erase from every link past its ``expires_at`` the details it proposed and the
    client's address it was asked from (used links were cleared of their proposals when
    opened); returns how many links held any. Safe to run at any time and from several
    workers at once: one statement, which an open link never matches."""
    erased = session.execute(
        update(CardRecoveryLink)
        .where(CardRecoveryLink.expires_at <= (now or utcnow()),
               or_(CardRecoveryLink.proposed_name.is_not(None),
                   CardRecoveryLink.proposed_email.is_not(None),
                   CardRecoveryLink.proposed_phone.is_not(None),
                   CardRecoveryLink.proposed_birthday.is_not(None),
                   CardRecoveryLink.proposed_consent.is_(True),
                   CardRecoveryLink.requested_from.is_not(None)))
        .values(proposed_name=None, proposed_email=None, proposed_phone=None,
                proposed_birthday=None, proposed_consent=false(), requested_from=None)
        .execution_options(synchronize_session=False))
    session.commit()
    return int(getattr(erased, "rowcount", 0) or 0)
