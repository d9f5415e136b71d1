"""What a returning customer typed into the join form that their record lacks or has
otherwise, and how it reaches the record: only through the owner of the mailbox on file.

Anyone can type a known email or phone into the form, so the form stores nothing on a
customer it recognizes. What it held that differs (another name, a new phone or email, a
birthday, a consent) is kept on the recovery link it mailed (``proposed_*``), offered
on the link's page with a box per detail, unticked, and stored only for the boxes the
mailbox's owner ticks: a stranger who typed someone's email and their own phone cannot
attach their phone to that card (which would let them claim it at the counter).

Invariants: a proposed email or phone that another customer of the merchant holds is
never proposed nor stored (one person per contact, per merchant); proposals are cleared
when the link is used; each stored change leaves an audit record naming the fields (not
their values); a new name is pushed to the customer's passes, which show it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.cards.contacts import Contact
from app.cards.models import Card, CardRecoveryLink, Customer
from app.cards.schemas import EnrolmentInput
from app.clock import utcnow
from app.ledger.models import AuditRecord
from app.outbox.messages import queue_pass_update

AUDIT_ACTION = "customer_details"


class Detail(enum.Enum):
    """One thing a returning customer may have typed anew."""

    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    BIRTHDAY = "birthday"
    CONSENT = "consent"


@dataclass(frozen=True)
class Offered:
    """A detail the link's page offers, with the value that would be stored."""

    detail: Detail
    value: str | date | bool


def propose(session: Session, link: CardRecoveryLink, customer: Customer,
            data: EnrolmentInput, contact: Contact) -> None:
    """Keep on ``link`` what the form held that ``customer``'s record lacks or differs
    from; contacts held by another customer are left out."""
    if data.name and data.name.strip() != customer.name:
        link.proposed_name = data.name.strip()
    if contact.email and contact.email != customer.email and not _held_by_another(
            session, customer, Customer.email == contact.email):
        link.proposed_email = contact.email
    if contact.phone and contact.phone != customer.phone and not _held_by_another(
            session, customer, Customer.phone == contact.phone):
        link.proposed_phone = contact.phone
    if data.birthday is not None and data.birthday != customer.birthday:
        link.proposed_birthday = data.birthday
    link.proposed_consent = data.marketing_consent and not customer.marketing_consent


def offered(link: CardRecoveryLink) -> list[Offered]:
    """What the link's page offers to store, in the form's order."""
    values: list[tuple[Detail, str | date | bool | None]] = [
        (Detail.NAME, link.proposed_name), (Detail.PHONE, link.proposed_phone),
        (Detail.EMAIL, link.proposed_email), (Detail.BIRTHDAY, link.proposed_birthday),
        (Detail.CONSENT, link.proposed_consent or None)]
    return [Offered(detail, value) for detail, value in values if value is not None]


def store_accepted(session: Session, link: CardRecoveryLink,
                   accepted: frozenset[Detail]) -> list[Detail]:
    """Store on the link's customer the offered details in ``accepted`` (a contact taken
    by another customer meanwhile is skipped), clear the link's proposals, and return
    what changed. The caller audits (``audit``) and commits."""
    customer = link.customer
    changed: list[Detail] = []
    for item in offered(link):
        if item.detail not in accepted:
            continue
        if item.detail is Detail.NAME and isinstance(item.value, str):
            customer.name = item.value
        elif item.detail is Detail.EMAIL and isinstance(item.value, str):
            if _held_by_another(session, customer, Customer.email == item.value):
                continue
            customer.email = item.value
        elif item.detail is Detail.PHONE and isinstance(item.value, str):
            if _held_by_another(session, customer, Customer.phone == item.value):
                continue
            customer.phone = item.value
        elif item.detail is Detail.BIRTHDAY and isinstance(item.value, date):
            customer.birthday = item.value
        elif item.detail is Detail.CONSENT:
            customer.marketing_consent, customer.consent_at = True, utcnow()
        changed.append(item.detail)
    link.proposed_name = link.proposed_email = link.proposed_phone = None
    link.proposed_birthday, link.proposed_consent = None, False
    if Detail.NAME in changed:
        _push_new_name(session, customer)
    return changed


def audit(session: Session, link: CardRecoveryLink, card: Card,
          changed: list[Detail]) -> None:
    """Record which fields the mailbox's owner changed through the link (not the values:
    the audit trail is no second copy of personal data)."""
    if changed:
        session.add(AuditRecord(
            merchant_id=link.merchant_id, action=AUDIT_ACTION, card_id=card.id,
            location_id=link.location_id,
            detail={"fields": [item.value for item in changed], "via": "recovery_link",
                    "recovery_link_id": link.id}))


def _held_by_another(session: Session, customer: Customer,
                     match: ColumnElement[bool]) -> bool:
    return session.scalar(select(Customer.id).where(
        Customer.merchant_id == customer.merchant_id, Customer.id != customer.id,
        match)) is not None


def _push_new_name(session: Session, customer: Customer) -> None:
    """Every pass of the customer shows their name: bump each and queue its push."""
    session.flush()
    for card in session.scalars(select(Card).where(Card.customer_id == customer.id)):
        card.mark_pass_changed()
        queue_pass_update(session, merchant_id=card.merchant_id, card_id=card.id,
                          pass_version=card.pass_version, reason="holder_name")
