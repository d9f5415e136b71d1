"""Use cases for cards: enrolment by the merchant (the API), finding a card.

The public join form is another use case (``app.cards.recovery.join``): a stranger there
never gets an existing card. ``enroll`` is for the merchant's own key, which may see
every card of its merchant, so it answers with the card already enrolled.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cards.contacts import Contact, read_contact
from app.cards.models import Card, Customer, LegacyCardNumber
from app.cards.numbers import legacy_number, new_card_number, number_from_scan
from app.cards.schemas import EnrolmentInput
from app.clock import utcnow
from app.errors import Invalid, NotFound
from app.i18n import LOCALES
from app.merchants.access import Principal, check_location
from app.merchants.models import ApiKey, Program
from app.merchants.service import program_location
from app.outbox.messages import pass_changed, queue_pass_update
from app.outbox.webhooks import CARD_CREATED, webhook_event, webhook_events
from app.points.postings import Actor, post, program_rules
from app.points.rules import tier_for
from app.problem_codes import ProblemCode


@dataclass(frozen=True)
class Enrolment:
    card: Card
    created: bool


def enroll(
    session: Session, *, program: Program, data: EnrolmentInput, location_id: int | None = None,
    source: str | None = None,
) -> Enrolment:
    """For the merchant's API: the program's card for this customer, a new one or the one
    already enrolled. A customer of another of the merchant's programs gets a card here
    (their name and contact stay; a consent given now is recorded). The program's
    contact rule holds here as on the join form (``ContactInvalid``). A new card records
    where the customer joined: ``location_id``, which must be one of the program's
    locations (422 ``unknown_location``, nothing written), and ``source``, a checked
    campaign tag (``app.cards.attribution``); a card already enrolled keeps its own."""
    if location_id is not None and program_location(
            session, program=program, location_id=location_id) is None:
        raise Invalid("location_id: no such location in this program.",
                      code=ProblemCode.UNKNOWN_LOCATION,
                      errors=[{"field": "location_id", "message": "no such location"}])
    contact = read_contact(program, email=data.email, phone=data.phone)
    email, phone = contact.email, contact.phone
    customer = find_customer(session, program.merchant_id, email, phone)
    if customer is not None:
        existing = card_of(session, program_id=program.id, customer_id=customer.id)
        if existing is not None:
            return Enrolment(existing, created=False)
    try:
        if customer is None:
            customer = new_customer(session, program, data, contact)
        elif data.marketing_consent and not customer.marketing_consent:
            customer.marketing_consent, customer.consent_at = True, utcnow()
        card = create_card(session, program, customer, location_id, source)
        session.commit()
    except IntegrityError:
        # A concurrent enrolment of the same person won the race: hand out its card.
        session.rollback()
        existing = _existing_card(session, program, email, phone)
        if existing is None:
            raise
        return Enrolment(existing, created=False)
    return Enrolment(card, created=True)


def find_customer(
    session: Session, merchant_id: int, email: str | None, phone: str | None
) -> Customer | None:
    """The merchant's customer with this (normalized) email or phone, if any."""
    matches = [Customer.email == email] if email else []
    matches += [Customer.phone == phone] if phone else []
    candidates = session.scalars(
        select(Customer).where(Customer.merchant_id == merchant_id, or_(*matches))
    ).all()
    # An email match outranks a phone match: people share phones more than mailboxes.
    return sorted(candidates, key=lambda c: c.email != email)[0] if candidates else None


def _existing_card(
    session: Session, program: Program, email: str | None, phone: str | None
) -> Card | None:
    customer = find_customer(session, program.merchant_id, email, phone)
    if customer is None:
        return None
    return card_of(session, program_id=program.id, customer_id=customer.id)


def card_of(session: Session, *, program_id: int, customer_id: int) -> Card | None:
    """The customer's card in the program, if they have one."""
    return session.scalar(
        select(Card).where(Card.program_id == program_id, Card.customer_id == customer_id)
    )


def new_customer(session: Session, program: Program, data: EnrolmentInput,
                 contact: Contact) -> Customer:
    """A customer the merchant did not know (the caller found none with this contact);
    their consent is recorded as given (the caller flushes and commits)."""
    customer = Customer(merchant_id=program.merchant_id, name=data.name,
                        email=contact.email, phone=contact.phone, birthday=data.birthday,
                        locale=data.locale or program.locales[0],
                        marketing_consent=data.marketing_consent,
                        consent_at=utcnow() if data.marketing_consent else None)
    session.add(customer)
    return customer


def create_card(
    session: Session, program: Program, customer: Customer, location_id: int | None,
    source: str | None = None, enrolled_from: str | None = None,
) -> Card:
    """A new card of the program for the customer, with its welcome points and its first
    outbox row (the caller commits; the card's uniqueness per program is the database's).
    ``location_id`` (one of the program's) and ``source`` (a checked campaign tag,
    ``app.cards.attribution``) say where the customer joined; ``enrolled_from``, the join
    form's ``enrolment_origin``, where it was sent from."""
    now = utcnow()
    card = Card(
        merchant_id=program.merchant_id, program=program, customer=customer,
        location_id=location_id, source=source, enrolled_from=enrolled_from,
        number=_unused_number(session),
        serial_number=uuid.uuid4().hex, authentication_token=new_authentication_token(),
        pass_updated_at=now, pass_last_modified=now.replace(microsecond=0),
    )
    session.add(card)
    session.flush()
    _welcome(session, card, program)
    card_created(session, card)
    # Tells the worker a card exists: Google gets its object (Apple has no device yet).
    queue_pass_update(session, merchant_id=card.merchant_id, card_id=card.id,
                      pass_version=card.pass_version, reason="enrolled")
    return card


# What ``card.created`` says of the new card (the contract's webhook data).
CARD_CREATED_FIELDS = ("program_id", "number", "balance", "tier", "stamps", "location_id",
                       "source")


def card_created(session: Session, card: Card) -> None:
    """``card.created`` for the merchant's webhooks (the caller commits)."""
    webhook_event(session, merchant_id=card.merchant_id, event_type=CARD_CREATED,
                  card_id=card.id, data={"card_id": card.id, **{
                      name: getattr(card, name) for name in CARD_CREATED_FIELDS}})


def cards_created(session: Session, *, merchant_id: int, rows: Sequence[Mapping[str, Any]]
                  ) -> None:
    """``card.created`` for many new cards written as rows (an import; the caller
    commits)."""
    webhook_events(session, merchant_id=merchant_id, event_type=CARD_CREATED, events=[
        (row["id"], {"card_id": row["id"], **{name: row[name] for name in CARD_CREATED_FIELDS}})
        for row in rows])


def remember_locale(session: Session, *, card: Card, locale: str) -> bool:
    """Keep the language the customer chose on their card's page: it is their customer
    record's (one per merchant), so their pages, mails and every one of their Google
    objects speak it from now on. The objects show their plain texts in it, so each of
    the customer's cards is bumped and pushed. Whether anything changed (the same
    language again writes and commits nothing)."""
    if locale not in LOCALES:
        raise Invalid(f"locale: one of {', '.join(LOCALES)}.",
                      errors=[{"field": "locale", "message": f"one of {list(LOCALES)}"}])
    if card.customer.locale == locale:
        return False
    # Lock the customer's cards, as every pass bump does, so that versions never repeat.
    locked = session.scalars(select(Card.id).where(Card.customer_id == card.customer_id)
                             .order_by(Card.id).with_for_update()).all()
    cards = session.scalars(select(Card).where(Card.id.in_(locked))
                            .execution_options(populate_existing=True)).all()
    card.customer.locale = locale
    for each in cards:
        pass_changed(session, each, reason="locale")
    session.commit()
    return True


def new_authentication_token() -> str:
    """A pass's web-service token (Apple asks for at least 16 characters; this has 43)."""
    return secrets.token_urlsafe(32)


def starting_tier(program: Program) -> str | None:
    """The tier a new card of the program starts in (None: the program has none)."""
    first_tier = tier_for(program_rules(program).tiers, 0)
    return first_tier.name if first_tier is not None else None


def _welcome(session: Session, card: Card, program: Program) -> None:
    rules = program_rules(program)
    card.tier = starting_tier(program)
    if rules.kind == "points" and rules.welcome_points:
        post(session, card, Actor(merchant_id=program.merchant_id), kind="welcome",
             points=rules.welcome_points, reason="welcome")


def _unused_number(session: Session) -> str:
    while True:
        number = new_card_number()
        if session.scalar(select(Card.id).where(Card.number == number)) is None:
            return number


def get_card(session: Session, *, merchant_id: int, card_id: int) -> Card:
    card = session.get(Card, card_id)
    if card is None or card.merchant_id != merchant_id:
        raise NotFound("No such card.")
    return card


OTHER_LOCATION = "This card was enrolled at a location you do not work at."


def card_in_reach(session: Session, *, principal: Principal, card_id: int) -> Card:
    """The merchant's card that ``principal`` may see and change: another merchant's is
    ``NotFound``; a principal limited to locations reaches the cards enrolled at them only
    (``location_forbidden``, as the search lists them): its staff serve those counters'
    customers. The till still finds any card by its barcode (``card_by_scan``)."""
    card = get_card(session, merchant_id=principal.merchant_id, card_id=card_id)
    check_location(principal, card.location_id, doing=OTHER_LOCATION)
    return card


def card_by_serial(session: Session, serial_number: str) -> Card | None:
    return session.scalar(select(Card).where(Card.serial_number == serial_number))


def card_by_scan(session: Session, *, merchant_id: int, scanned: str,
                 keys: Sequence[bytes]) -> Card:
    """The merchant's card with the barcode or number scanned or typed; failing that, the
    card that had it as its old number (an import's, ``LegacyCardNumber``). ``keys``: the
    secret keys a barcode may be signed with (``app.secret_keys``), the current one first."""
    number = number_from_scan(scanned, keys)
    card = None
    if number is not None:
        card = session.scalar(select(Card).where(Card.number == number,
                                                 Card.merchant_id == merchant_id))
    if card is None:
        card = card_by_legacy_number(session, merchant_id=merchant_id, scanned=scanned)
    if card is None:
        raise NotFound("No card of yours has this barcode or number.",
                       code=ProblemCode.UNKNOWN_BARCODE)
    return card


def number_by_legacy_number(session: Session, *, api_key_prefix: str, scanned: str
                            ) -> str | None:
    """For the counter's purchase, which reads the key with the card (the caller checks
    the key after): the number of the card that had ``scanned`` as its old number at the
    merchant whose key has ``api_key_prefix``, or None."""
    old = legacy_number(scanned)
    if old is None:
        return None
    return session.scalar(
        select(Card.number).join(LegacyCardNumber, LegacyCardNumber.card_id == Card.id)
        .join(ApiKey, ApiKey.merchant_id == LegacyCardNumber.merchant_id)
        .where(ApiKey.prefix == api_key_prefix, LegacyCardNumber.number == old)
        .order_by(LegacyCardNumber.id).limit(1))


def card_by_legacy_number(session: Session, *, merchant_id: int, scanned: str
                          ) -> Card | None:
    """The merchant's card that had ``scanned`` as its number in the program it was
    imported from, or None (the earliest such, should two programs share one)."""
    old = legacy_number(scanned)
    if old is None:
        return None
    return session.scalar(
        select(Card).join(LegacyCardNumber, LegacyCardNumber.card_id == Card.id)
        .where(LegacyCardNumber.merchant_id == merchant_id, LegacyCardNumber.number == old)
        .order_by(LegacyCardNumber.id).limit(1))
