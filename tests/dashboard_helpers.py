"""What the dashboard's tests share: staff members made directly, signing in through the
login form, the CSRF token of a page, the mails the app queued, and a snapshot of
everything a dashboard action could change (for "and nothing changed")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics.models import SegmentRefresh
from app.automations.models import AutomationRule, AutomationSettings
from app.cards.models import Card, Customer
from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.delivery.mail import MailSync
from app.integrations.mail import LoggingMailSender
from app.ledger.models import Alert, AuditRecord, LedgerEntry, Purchase, Refund
from app.merchants.models import (
    ApiKey,
    Location,
    Program,
    Staff,
    StaffEvent,
    StaffLink,
    StaffLocation,
)
from app.merchants.passwords import hash_password
from app.merchants.service import create_merchant, issue_api_key
from app.offers.models import CardOffer, Offer
from app.offers.schemas import AudienceInput, OfferCreate
from app.offers.service import create_offer
from app.outbox.models import Mail

PASSWORD = "correct horse battery"
LINK = re.compile(r"https?://[^/\s]+(/dashboard/link/[0-9]+\.[A-Za-z0-9_=-]+)")


@dataclass(frozen=True)
class Merchant:
    merchant_id: int
    owner_email: str
    api_key: str


def merchant_with_owner(session: Session, name: str = "Kava Bar") -> Merchant:
    slug = re.sub(r"\W", "", name.lower())
    created = create_merchant(session, name=name, email=f"owner@{slug}.example",
                              password=PASSWORD)
    return Merchant(created.merchant.id, created.owner.email, created.api_key)


def member(session: Session, merchant_id: int, role: str, email: str,
           locations: tuple[int, ...] = ()) -> int:
    staff = Staff(merchant_id=merchant_id, email=email, name=email.split("@")[0], role=role,
                  password_hash=hash_password(PASSWORD))
    session.add(staff)
    session.flush()
    staff.locations = [StaffLocation(staff_id=staff.id, location_id=location_id)
                       for location_id in locations]
    session.commit()
    return staff.id


def location(session: Session, merchant_id: int, program_id: int, name: str) -> int:
    place = Location(merchant_id=merchant_id, program_id=program_id, name=name)
    session.add(place)
    session.commit()
    return place.id


def key_of(session: Session, merchant_id: int, role: str = "cashier") -> int:
    return issue_api_key(session, merchant_id=merchant_id, role=role, name="till").key.id


def draft_offer(session: Session, program: Program, **audience: Any) -> int:
    """A draft offer of the program, to everyone who consented (or ``audience``)."""
    return create_offer(session, program=program, data=OfferCreate(
        title="Free croissant", body="With any coffee", audience=AudienceInput(**audience))).id


def velocity_alert(session: Session, program: Program, location_id: int | None) -> int:
    """An alert as a velocity limit raises it, on a new card of the program."""
    card = enroll(session, program=program, data=EnrolmentInput(
        name="Quick Buyer", email=f"quick{program.id}@example.com")).card
    alert = Alert(merchant_id=program.merchant_id, program_id=program.id, card_id=card.id,
                  location_id=location_id, kind="velocity_limit",
                  detail=f"Card {card.number} already made 3 purchases in an hour.")
    session.add(alert)
    session.commit()
    return alert.id


def csrf_of(client: FlaskClient, path: str = "/dashboard/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None, (path, page.status_code)
    return found.group(1)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/dashboard/login", data={
        "csrf": csrf_of(client), "email": email, "password": password})


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = log_in(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def send_mails(app: Flask) -> list[EmailMessage]:
    """Send what is queued through the app's mail channel; the mails it wrote."""
    runtime = app.extensions["loyalpass"]
    sender = LoggingMailSender()
    MailSync(sessions=runtime.sessions, sender=sender, wallet=runtime.wallet,
             sender_address=runtime.config.sender_address).run_once()
    return list(sender.sent)


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a dashboard action may change, as plain values."""
    session.rollback()
    try:
        return {name: [tuple(row) for row in rows] for name, rows in {
            "staff": session.execute(select(
                Staff.id, Staff.role, Staff.password_hash, Staff.session_version,
                Staff.removed_at).order_by(Staff.id)).all(),
            "locations": session.execute(select(StaffLocation.staff_id,
                                                StaffLocation.location_id)).all(),
            "keys": session.execute(select(ApiKey.id, ApiKey.revoked_at)
                                    .order_by(ApiKey.id)).all(),
            "links": session.execute(select(StaffLink.id, StaffLink.used_at)).all(),
            "mails": session.execute(select(Mail.id)).all(),
            "programs": session.execute(select(
                Program.id, Program.design_version, Program.colors, Program.logo)
                .order_by(Program.id)).all(),
            "places": session.execute(select(Location.id, Location.name, Location.latitude)
                                      .order_by(Location.id)).all(),
            "events": session.execute(select(StaffEvent.action)
                                      .where(StaffEvent.action != "login")).all(),
            "offers": session.execute(select(Offer.id, Offer.status, Offer.published_at)
                                      .order_by(Offer.id)).all(),
            "card_offers": session.execute(select(CardOffer.offer_id, CardOffer.card_id)).all(),
            "alerts": session.execute(select(Alert.id, Alert.acknowledged_at)
                                      .order_by(Alert.id)).all(),
            "cards": session.execute(select(Card.id, Card.status, Card.balance,
                                            Card.link_version).order_by(Card.id)).all(),
            "customers": session.execute(select(Customer.id)).all(),
            "entries": session.execute(select(LedgerEntry.id)).all(),
            "audit": session.execute(select(AuditRecord.id)).all(),
            "purchases": session.execute(select(Purchase.id, Purchase.refunded_amount)
                                         .order_by(Purchase.id)).all(),
            "refunds": session.execute(select(Refund.id)).all(),
            "segments": session.execute(select(SegmentRefresh.program_id,
                                               SegmentRefresh.refreshed_at)).all(),
            "automations": session.execute(select(
                AutomationSettings.program_id, AutomationSettings.weekly_cap)).all(),
            "rules": session.execute(select(AutomationRule.id, AutomationRule.enabled)).all(),
        }.items()}
    finally:
        session.rollback()
