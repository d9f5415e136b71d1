"""A customer's own data, through the use cases behind their card's page, on SQLite and
PostgreSQL: changing contact details, consent, export and deletion; each audited, each
refusal leaving everything as it was."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.cards import account
from app.cards.audit import Who
from app.cards.models import AuditEvent, Card, CardRecoveryLink, Customer
from app.config import Config
from app.delivery.fanout import drain_outbox
from app.google_wallet.models import GoogleObject
from app.outbox.models import Mail, OutboxMessage
from app.wallet.google_shapes import google_card, google_program
from passes.google.objects import loyalty_object, object_patch
from tests.card_page_helpers import Shop, buy, enroll, open_shop, publish_offer, with_google
from tests.conftest import count_rows


@pytest.fixture
def shop(app: Flask) -> Shop:
    return open_shop(app)


def holder(session: Session, card: dict[str, Any]) -> Customer:
    session.rollback()
    found = session.scalar(select(Customer).join(Card, Card.customer_id == Customer.id)
                           .where(Card.id == card["id"]))
    assert found is not None
    session.expunge_all()
    session.rollback()  # as ``events`` does
    return found


def events(session: Session) -> list[AuditEvent]:
    """The audit trail, read in a transaction that ends at once (SQLite's write lock
    would otherwise keep the app's requests waiting)."""
    session.rollback()
    found = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    session.expunge_all()
    session.rollback()
    return found


def contact(name: str = "Оксана", email: str = "", phone: str = "") -> account.ContactInput:
    return account.ContactInput(name=name, email=email, phone=phone)


def test_a_customer_changes_their_details_and_the_audit_names_the_fields_not_the_values(
        session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="oksana@example.com")
    changed = account.change_contact(session, card_id=card["id"], who=Who.customer(),
                                     data=contact("Оксана Шевченко", "Oksana@Example.com",
                                                  "067 123 45 67"))
    assert changed == ["name", "phone"]  # the email is the same once normalized
    customer = holder(session, card)
    assert (customer.name, customer.email, customer.phone) == (
        "Оксана Шевченко", "oksana@example.com", "+380671234567")
    [event] = events(session)
    assert (event.actor, event.action, event.card_id) == ("customer", "contact.changed",
                                                          card["id"])
    assert event.detail == {"fields": ["name", "phone"]}
    assert "Шевченко" not in str(event.detail) and "380" not in str(event.detail)


@pytest.mark.parametrize(("sent", "problems"), [
    (contact("  ", email="a@example.com"), {"name": account.ContactProblem.NAME_MISSING}),
    (contact("x" * 201, email="a@example.com"),
     {"name": account.ContactProblem.NAME_TOO_LONG}),
    (contact("Bad\x00Name", email="a@example.com"),
     {"name": account.ContactProblem.TEXT_CHARACTERS}),
    (contact(email="not an email"), {"email": account.ContactProblem.EMAIL_INVALID}),
    (contact(phone="12"), {"phone": account.ContactProblem.PHONE_INVALID}),
    (contact(email="", phone=""), {"email": account.ContactProblem.UNREACHABLE}),
    (contact(email="taken@example.com"), {"email": account.ContactProblem.EMAIL_TAKEN}),
    (contact(email="o@example.com", phone="+380671112233"),
     {"phone": account.ContactProblem.PHONE_TAKEN}),
    (contact(phone="\ud800"), {"phone": account.ContactProblem.TEXT_CHARACTERS}),
])
def test_a_refused_change_says_why_per_field_and_changes_nothing(
        session: Session, shop: Shop, sent: account.ContactInput,
        problems: dict[str, account.ContactProblem]) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    enroll(shop, shop.points, name="Other", email="taken@example.com", phone="+380671112233")
    with pytest.raises(account.ContactRefused) as refused:
        account.change_contact(session, card_id=card["id"], who=Who.customer(), data=sent)
    assert refused.value.problems == problems
    session.rollback()
    customer = holder(session, card)
    assert (customer.name, customer.email, customer.phone) == ("Oksana", "o@example.com",
                                                               None)
    assert events(session) == []
    assert "Other" not in str(refused.value.as_dict())


def test_renaming_bumps_the_pass_so_the_phone_shows_the_new_name(
        session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    before = count_rows(session, OutboxMessage)
    account.change_contact(session, card_id=card["id"], who=Who.customer(),
                           data=contact("Oksana S.", "o@example.com"))
    assert count_rows(session, OutboxMessage) == before + 1
    session.rollback()
    assert session.get(Card, card["id"]).pass_version == 2  # type: ignore[union-attr]


def test_a_withdrawn_consent_holds_for_every_offer_published_after_it(
        session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com", consent=True)
    enroll(shop, shop.points, name="Taras", email="t@example.com", consent=True)
    assert publish_offer(shop, shop.points, "Before") == 2
    assert account.set_marketing_consent(session, card_id=card["id"], who=Who.customer(),
                                         consent=False)
    assert not account.set_marketing_consent(session, card_id=card["id"],
                                             who=Who.customer(), consent=False)
    assert publish_offer(shop, shop.points, "After, promotional") == 1
    assert publish_offer(shop, shop.points, "After, a service note",
                         promotional=False) == 2
    customer = holder(session, card)
    assert not customer.marketing_consent and customer.consent_withdrawn_at is not None
    [event] = events(session)
    assert event.action == "consent.withdrawn" and event.detail["fields"] == [
        "marketing_consent"]
    assert event.detail["given_at"] is not None  # when the withdrawn consent was given

    account.set_marketing_consent(session, card_id=card["id"], who=Who.customer(),
                                  consent=True)
    assert publish_offer(shop, shop.points, "Welcome back") == 2
    history = account.consent_history(holder(session, card), events(session))
    assert [span["withdrawn_at"] is None for span in history] == [False, True]


def test_the_export_holds_the_customer_the_card_its_ledger_devices_and_consent(
        session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com", consent=True)
    buy(shop, card, 50000)
    account.set_marketing_consent(session, card_id=card["id"], who=Who.customer(),
                                  consent=False)
    document = account.export_data(session, card_id=card["id"], who=Who.customer())
    assert document["customer"]["email"] == "o@example.com"
    assert document["card"]["number"] == card["number"]
    assert document["card"]["balance"] == 50 + 25
    assert [entry["kind"] for entry in document["ledger"]] == ["welcome", "earn"]
    assert document["devices"] == 0
    assert document["marketing_consent"]["given"] is False
    assert len(document["consent_history"]) == 1
    assert [change["action"] for change in document["changes"]] == [
        "consent.withdrawn", "data.exported"]
    assert [event.action for event in events(session)][-1] == "data.exported"


def test_deleting_erases_the_customer_voids_their_cards_and_keeps_the_ledger(
        session: Session, shop: Shop, app: Flask) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com",
                  phone="+380671234567", consent=True)
    other = enroll(shop, shop.stamps, name="Oksana", email="o@example.com")
    buy(shop, card, 50000)
    bystander = enroll(shop, shop.points, name="Taras", email="t@example.com")
    owner = holder(session, card)  # (each holder() call starts afresh: read them first)
    merchant_id = card_id_merchant(session, card)
    session.execute(update(Customer).where(Customer.id == owner.id)
                    .values(birthday=date(1990, 5, 17)))
    session.add(CardRecoveryLink(merchant_id=merchant_id, program_id=shop.points["id"],
                                 customer_id=owner.id, card_id=card["id"],
                                 locale="uk", requested_from="203.0.113.9",
                                 expires_at=owner.created_at))
    session.flush()
    session.commit()
    links_before = count_rows(session, CardRecoveryLink)
    outbox_before = count_rows(session, OutboxMessage)
    assert links_before == 1

    deleted = account.delete_data(session, card_id=card["id"], who=Who.customer())

    assert sorted(deleted) == sorted([card["id"], other["id"]])
    customer = holder(session, card)
    assert (customer.name, customer.email, customer.phone, customer.birthday) == (
        "", None, None, None)
    assert customer.erased_at is not None and not customer.marketing_consent
    statuses = dict(session.execute(select(Card.id, Card.status)).all())
    assert statuses == {card["id"]: "deleted", other["id"]: "deleted",
                        bystander["id"]: "active"}
    assert count_rows(session, OutboxMessage) == outbox_before + 2  # both passes pushed
    assert count_rows(session, CardRecoveryLink) == 0 and count_rows(session, Mail) == 0
    entries = shop.api.get(f"/api/v1/cards/{card['id']}/entries").get_json()["entries"]
    assert [entry["kind"] for entry in entries] == ["earn", "welcome"]  # kept
    [erased] = [event for event in events(session) if event.action == "data.erased"]
    assert erased.detail["fields"] == ["birthday", "email", "name", "phone"]
    assert sorted(erased.detail["cards"]) == sorted(deleted)
    answer = shop.api.get(f"/api/v1/cards/{card['id']}").get_json()
    assert answer["status"] == "deleted" and answer["customer"]["email"] is None


def card_id_merchant(session: Session, card: dict[str, Any]) -> int:
    session.rollback()
    found = session.get(Card, card["id"])
    assert found is not None
    return found.merchant_id


def test_after_deletion_nothing_can_write_the_data_back_or_revive_the_card(
        session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    account.delete_data(session, card_id=card["id"], who=Who.customer())
    count = len(events(session))
    for attempt in (
        lambda: account.change_contact(session, card_id=card["id"], who=Who.customer(),
                                       data=contact("Oksana", "o@example.com")),
        lambda: account.set_marketing_consent(session, card_id=card["id"],
                                              who=Who.customer(), consent=True),
        lambda: account.export_data(session, card_id=card["id"], who=Who.customer()),
        lambda: account.delete_data(session, card_id=card["id"], who=Who.customer()),
    ):
        with pytest.raises(account.CardDeleted):
            attempt()
        session.rollback()
    assert holder(session, card).email is None and len(events(session)) == count
    for action in ("unblock", "block"):
        refused = shop.api.post(f"/api/v1/cards/{card['id']}/{action}")
        assert refused.status_code == 409 and refused.get_json()["code"] == "card_deleted"
    session.rollback()
    assert session.get(Card, card["id"]).status == "deleted"  # type: ignore[union-attr]


def test_a_deleted_cards_google_object_is_queued_and_sent_inactive_without_a_name(
        config: Config, tmp_path: Path) -> None:
    app = create_app(with_google(config, tmp_path))
    runtime = app.extensions["loyalpass"]
    try:
        shop = open_shop(app)
        card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
        with runtime.sessions() as session:
            drain_outbox(session, google=runtime.wallet.google)  # the object exists
            session.execute(update(GoogleObject).values(status="synced"))
            session.commit()
            account.delete_data(session, card_id=card["id"], who=Who.customer())
            drain_outbox(session, google=runtime.wallet.google)
            state = session.get(GoogleObject, card["id"])
            found = session.get(Card, card["id"])
            assert state is not None and found is not None
            assert state.status == "pending"  # the Google loop sends it next
            # The body that loop sends, built as it builds it (app.delivery.google.sync).
            program = google_program(found.program, runtime.wallet.google,
                                     base_url=config.base_url)
            view = google_card(found, barcode_message=runtime.wallet.barcode_message(found),
                               customer_url=runtime.wallet.card_url(found))
            inserted = loyalty_object(program, view)  # were it inserted now: no name
            assert inserted["state"] == "INACTIVE" and "accountName" not in inserted
            patch = object_patch(program, view)  # the object Google has: the name cleared
            assert patch["state"] == "INACTIVE" and patch["accountName"] == ""
    finally:
        runtime.stop_workers()
        runtime.engine.dispose()
