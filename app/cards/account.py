"""What a customer does with their own data from their card's page: change their contact
details, give or withdraw marketing consent, download everything held about them, and
delete it.

Invariants:

- each use case locks the customer's row, checks, writes, records an ``AuditEvent`` and
  commits once; a refusal raises before anything is written (nothing changed);
- an erased customer, or a deleted card, accepts no change: a request replayed after the
  deletion (an old form sent again) cannot write personal data back;
- a refusal because another customer of the merchant holds the email or phone says so
  and nothing more (no name, no card of theirs);
- deleting erases every personal field of the customer and deletes every card they hold
  with the merchant (each pass voided, pushed to its devices, its Google object set
  inactive, through the outbox), keeps the ledger (its cards now point at an anonymous
  customer), and forgets their recovery links and mails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cards.audit import AuditAction, Who, record
from app.cards.models import AuditEvent, Card, CardRecoveryLink, CardStatus, Customer
from app.clock import iso, utcnow
from app.devices.models import Registration, SignedPass
from app.errors import Gone, Invalid
from app.ledger.models import LedgerEntry
from app.outbox.messages import pass_changed
from app.outbox.models import Mail
from app.validation import text_fault

# The customer's personal fields, erased on deletion.
PERSONAL_FIELDS = ("name", "email", "phone", "birthday")
CONTACT_FIELDS = ("name", "email", "phone")
MAX_NAME = 200
MAX_EMAIL = 320
MAX_PHONE_TYPED = 40


class ContactProblem(StrEnum):
    """Why a contact detail was refused; the page says each in the customer's language."""

    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    TEXT_CHARACTERS = "text_characters"
    EMAIL_INVALID = "email_invalid"
    PHONE_INVALID = "phone_invalid"
    UNREACHABLE = "unreachable"  # neither an email nor a phone
    EMAIL_TAKEN = "email_taken"
    PHONE_TAKEN = "phone_taken"


class ContactRefused(Invalid):
    """The details were not changed; ``problems`` maps each field to why."""

    def __init__(self, problems: dict[str, ContactProblem]) -> None:
        super().__init__("The contact details were not changed.",
                         errors=[{"field": name, "message": problem.value}
                                 for name, problem in problems.items()])
        self.problems = problems


class CardDeleted(Gone):
    """The card was deleted with its holder's data: it takes no more changes."""


@dataclass(frozen=True)
class ContactInput:
    """What the details form sent, as typed (blank fields as empty text)."""

    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None


@dataclass
class _Checked:
    """The form's values, each normalized when valid (None when blank or refused)."""

    name: str
    email: str | None
    phone: str | None
    problems: dict[str, ContactProblem] = field(default_factory=dict)


def _locked_holder(session: Session, card_id: int) -> tuple[Card, Customer]:
    """The card and its holder, the holder's row locked to the end of the transaction
    (every use case here locks it first, so they take turns); a deleted card refuses."""
    card = session.get(Card, card_id)
    assert card is not None
    customer = session.scalar(select(Customer).where(Customer.id == card.customer_id)
                              .with_for_update().execution_options(populate_existing=True))
    session.refresh(card)
    assert customer is not None
    if card.status == CardStatus.DELETED or customer.erased_at is not None:
        raise CardDeleted("This card was deleted with its holder's data.")
    return card, customer


def _checked_contact(data: ContactInput, country: str | None) -> _Checked:
    problems: dict[str, ContactProblem] = {}
    for key, value in (("name", data.name), ("email", data.email), ("phone", data.phone)):
        if text_fault(value) is not None:
            problems[key] = ContactProblem.TEXT_CHARACTERS
    name, typed_email, typed_phone = data.name.strip(), data.email.strip(), data.phone.strip()
    if not name:
        problems["name"] = ContactProblem.NAME_MISSING
    elif len(name) > MAX_NAME:
        problems.setdefault("name", ContactProblem.NAME_TOO_LONG)
    email = _email(typed_email) if "email" not in problems else None
    if typed_email and email is None:
        problems.setdefault("email", ContactProblem.EMAIL_INVALID)
    phone = _phone(typed_phone, country) if "phone" not in problems else None
    if typed_phone and phone is None:
        problems.setdefault("phone", ContactProblem.PHONE_INVALID)
    if not typed_email and not typed_phone:
        problems["email"] = ContactProblem.UNREACHABLE
    return _Checked(name=name, email=email, phone=phone, problems=problems)


def _email(value: str) -> str | None:
    if not value or len(value) > MAX_EMAIL:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _phone(value: str, country: str | None) -> str | None:
    if not value or len(value) > MAX_PHONE_TYPED:
        return None
    try:
        parsed = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _taken(session: Session, customer: Customer, checked: _Checked
           ) -> dict[str, ContactProblem]:
    """Which of the new email and phone another customer of the merchant holds."""
    taken: dict[str, ContactProblem] = {}
    for key, value, problem in (("email", checked.email, ContactProblem.EMAIL_TAKEN),
                                ("phone", checked.phone, ContactProblem.PHONE_TAKEN)):
        if value is None or value == getattr(customer, key):
            continue
        column = Customer.email if key == "email" else Customer.phone
        other = session.scalar(select(Customer.id).where(
            Customer.merchant_id == customer.merchant_id, column == value,
            Customer.id != customer.id))
        if other is not None:
            taken[key] = problem
    return taken


def taken_contacts(session: Session, *, card_id: int, data: ContactInput
                   ) -> dict[str, ContactProblem]:
    """Which of the typed email and phone another customer of the merchant holds; reads
    only (a form that refuses for other reasons names these faults too, all at once)."""
    card = session.get(Card, card_id)
    assert card is not None
    return _taken(session, card.customer, _checked_contact(data, card.program.country))


def change_contact(session: Session, *, card_id: int, who: Who, data: ContactInput
                   ) -> list[str]:
    """Change the holder's name, email and phone; returns the names of the fields that
    changed (none: nothing written). Raises ``ContactRefused`` (nothing changed)."""
    card, customer = _locked_holder(session, card_id)
    checked = _checked_contact(data, card.program.country)
    problems = {**_taken(session, customer, checked), **checked.problems}
    if problems:
        raise ContactRefused(problems)
    contact = Contact(name=checked.name, email=checked.email, phone=checked.phone)
    changed = [key for key in CONTACT_FIELDS
               if getattr(contact, key) != getattr(customer, key)]
    if not changed:
        session.rollback()  # nothing to write: let go of the lock at once
        return []
    for key in changed:
        setattr(customer, key, getattr(contact, key))
    try:
        session.flush()
    except IntegrityError:
        # Another customer took the email or phone between the check and the write.
        session.rollback()
        raise ContactRefused({"email": ContactProblem.EMAIL_TAKEN} if "email" in changed
                             else {"phone": ContactProblem.PHONE_TAKEN}) from None
    if "name" in changed:
        for held in _cards_of(session, customer):
            pass_changed(session, held, reason="holder_changed")  # the pass shows the name
    record(session, who, AuditAction.CONTACT_CHANGED, customer=customer, card=card,
           fields=changed)
    session.commit()
    return changed


def set_marketing_consent(session: Session, *, card_id: int, who: Who, consent: bool
                          ) -> bool:
    """Give or withdraw consent to marketing; True when it changed. A withdrawal holds
    for every offer published after it (``app.offers`` targets consenting holders only)."""
    card, customer = _locked_holder(session, card_id)
    if customer.marketing_consent == consent:
        session.rollback()  # nothing to write: let go of the lock at once
        return False
    now = utcnow()
    if consent:
        customer.marketing_consent, customer.consent_at = True, now
        customer.consent_withdrawn_at = None
        record(session, who, AuditAction.CONSENT_GIVEN, customer=customer, card=card,
               fields=["marketing_consent"])
    else:
        given_at = customer.consent_at
        customer.marketing_consent, customer.consent_withdrawn_at = False, now
        record(session, who, AuditAction.CONSENT_WITHDRAWN, customer=customer, card=card,
               fields=["marketing_consent"], given_at=iso(given_at))
    session.commit()
    return True


def other_cards(session: Session, *, card: Card) -> int:
    """How many more cards the card's holder has with the merchant (deleted with it)."""
    return int(session.scalar(select(func.count()).select_from(Card).where(
        Card.customer_id == card.customer_id, Card.id != card.id,
        Card.status != CardStatus.DELETED)) or 0)


def _cards_of(session: Session, customer: Customer) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.customer_id == customer.id)
                                .order_by(Card.id)))


def delete_data(session: Session, *, card_id: int, who: Who) -> list[int]:
    """Erase the holder's personal data and delete every card they hold with the
    merchant; returns the ids of the cards deleted. Raises ``CardDeleted`` when it was
    done before (a replayed request changes nothing)."""
    card, customer = _locked_holder(session, card_id)
    held = _cards_of(session, customer)
    for each in held:
        session.execute(select(Card.id).where(Card.id == each.id).with_for_update())
        session.refresh(each)
        each.status = CardStatus.DELETED.value
        pass_changed(session, each, reason="deleted")  # voided, pushed, Google inactive
    erased = [key for key in PERSONAL_FIELDS if getattr(customer, key)]
    now = utcnow()
    customer.name, customer.email, customer.phone, customer.birthday = "", None, None, None
    if customer.marketing_consent:
        customer.marketing_consent, customer.consent_withdrawn_at = False, now
    customer.erased_at = now
    # The mails hold the address, the links the client's address, the passes signed
    # ahead the name: none is kept.
    session.execute(delete(Mail).where(Mail.customer_id == customer.id))
    session.execute(delete(SignedPass).where(SignedPass.card_id.in_([each.id for each in held])))
    session.execute(delete(CardRecoveryLink).where(CardRecoveryLink.customer_id == customer.id))
    record(session, who, AuditAction.DATA_ERASED, customer=customer, card=card,
           fields=erased, cards=[each.id for each in held])
    session.commit()
    return [each.id for each in held]


def export_data(session: Session, *, card_id: int, who: Who) -> dict[str, Any]:
    """Everything held about the card's holder and the card, as JSON (the download is
    recorded in the audit trail)."""
    card, customer = _locked_holder(session, card_id)
    record(session, who, AuditAction.DATA_EXPORTED, customer=customer, card=card)
    session.flush()
    document = _export(session, card, customer)
    session.commit()
    return document


def _export(session: Session, card: Card, customer: Customer) -> dict[str, Any]:
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == card.id)
                              .order_by(LedgerEntry.id)).all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.customer_id == customer.id)
                             .order_by(AuditEvent.id)).all()
    devices = session.scalar(select(func.count()).select_from(Registration)
                             .where(Registration.card_id == card.id)) or 0
    return {
        "exported_at": iso(utcnow()),
        "merchant": card.program.merchant.name,
        "program": card.program.name,
        "customer": {"name": customer.name, "email": customer.email,
                     "phone": customer.phone,
                     "birthday": customer.birthday.isoformat() if customer.birthday else None,
                     "language": customer.locale,
                     "joined_at": iso(customer.created_at)},
        "marketing_consent": {"given": customer.marketing_consent,
                              "given_at": iso(customer.consent_at),
                              "withdrawn_at": iso(customer.consent_withdrawn_at)},
        "consent_history": consent_history(customer, events),
        "card": {"number": card.number, "status": card.status, "balance": card.balance,
                 "tier": card.tier, "stamps": card.stamps, "rewards": card.rewards,
                 "visits": card.visits, "lifetime_spend": card.lifetime_spend,
                 "currency": card.program.currency,
                 "last_visit_at": iso(card.last_visit_at), "created_at": iso(card.created_at)},
        "ledger": [{"kind": entry.kind, "points": entry.points, "stamps": entry.stamps,
                    "rewards": entry.rewards, "reason": entry.reason,
                    "at": iso(entry.created_at)} for entry in entries],
        "devices": int(devices),
        "changes": [{"action": event.action, "by": event.actor,
                     "fields": event.detail.get("fields", []), "at": iso(event.created_at)}
                    for event in events],
    }


def consent_history(customer: Customer, events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """Each span of marketing consent, oldest first: when given and when withdrawn (a
    withdrawal records when the consent it ended was given, the join's included)."""
    spans = [{"given_at": event.detail.get("given_at"), "withdrawn_at": iso(event.created_at)}
             for event in events if event.action == AuditAction.CONSENT_WITHDRAWN]
    if customer.marketing_consent:
        spans.append({"given_at": iso(customer.consent_at), "withdrawn_at": None})
    return spans
