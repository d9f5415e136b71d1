"""One person per merchant, matched on either contact: a join that meets a known email or
phone makes no second card and no second welcome bonus, and what it held beyond the
match (a new phone, a new email, another name, a birthday) is neither dropped in
silence nor stored: the mailed link offers it to the mailbox's owner, who ticks what to
keep. Mails come from a real SMTP server on loopback."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card, CardRecoveryLink, Customer
from app.ledger.models import AuditRecord, LedgerEntry
from app.outbox.models import OutboxMessage
from tests import test_card_recovery as recovery_tests
from tests.conftest import Api, count_rows
from tests.push_helpers import wait_for
from tests.smtp_standin import SmtpStandIn
from tests.test_card_recovery import assert_reveals_nothing, csrf, join, link_path, snapshot

# The recovery tests' mail server on loopback (STARTTLS, a login) and the inline worker.
smtp_tls, mail_server, config = (recovery_tests.smtp_tls, recovery_tests.mail_server,
                                 recovery_tests.config)


def welcome_program(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {
        "name": "Kava Club", "currency": "UAH", "locales": ["en", "uk", "ru"],
        "welcome_points": 100, "ask_birthday": True})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def first_card(client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
               **fields: str) -> dict[str, Any]:
    assert join(client, program["slug"], **fields).status_code == 303
    card_id = session.scalar(select(Card.id).order_by(Card.id.desc()))
    session.rollback()
    card: dict[str, Any] = api.get(f"/api/v1/cards/{card_id}").get_json()
    return card


def welcome_entries(session: Session) -> int:
    session.rollback()
    try:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind == "welcome")) or 0)
    finally:
        session.rollback()


def ticks(html: str) -> dict[str, str]:
    """The boxes the link's page offers: their name and the text beside them."""
    return dict(re.findall(r'<input id="keep-\w+" name="(\w+)" type="checkbox" value="y">\s*'
                           r'<label for="keep-\w+">([^<]*)</label>', html))


def test_a_known_email_with_a_new_phone_keeps_the_card_and_offers_the_phone_and_name(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    card = first_card(client, api, program, session, name="Олена Коваленко",
                      email="olena@example.com")
    before = snapshot(session)
    response = join(client, program["slug"], name="Olena K", email="olena@example.com",
                    phone="067 123 45 67", birthday="1990-05-17")
    assert response.status_code == 200 and "Check your mail" in response.text
    assert_reveals_nothing(response, card)
    assert snapshot(session) == before  # nothing stored on the customer before they say so
    assert welcome_entries(session) == 1
    wait_for(lambda: len(mail_server.mails()) == 1)
    assert mail_server.mails()[0]["To"] == "olena@example.com"
    path = link_path(mail_server)
    page = client.get(f"{path}?lang=en")
    assert ticks(page.text) == {"name": "Name: Olena K", "phone": "Phone: +380 67 123 4567",
                                "birthday": "Birthday: May 17, 1990"}
    assert card["number"] not in page.text
    opened = client.post(path, data={"csrf": csrf(page.text), "phone": "y", "birthday": "y"})
    assert opened.status_code == 303
    session.rollback()
    customer = session.scalars(select(Customer)).one()
    assert (customer.name, customer.email, customer.phone) == (
        "Олена Коваленко", "olena@example.com", "+380671234567")  # the name was not ticked
    assert customer.birthday is not None and customer.birthday.isoformat() == "1990-05-17"
    audit = session.scalars(select(AuditRecord).where(
        AuditRecord.action == "customer_details")).one()
    assert audit.card_id == card["id"]
    assert audit.detail["fields"] == ["phone", "birthday"]
    assert "+380671234567" not in str(audit.detail)  # which fields, never their values
    link = session.scalars(select(CardRecoveryLink)).one()
    assert (link.proposed_phone, link.proposed_name, link.proposed_birthday) == (None,) * 3
    assert count_rows(session, Card) == 1 and welcome_entries(session) == 1


def test_a_known_phone_with_a_new_email_makes_no_second_card_and_no_second_welcome_bonus(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    card = first_card(client, api, program, session, name="Марія", phone="+380671234567",
                      email="maria@example.com")
    assert card["balance"] == 100
    before = snapshot(session)
    response = join(client, program["slug"], lang="uk", name="Марія",
                    phone="067 123 45 67", email="maria.new@example.com")
    assert response.status_code == 200 and "Перевірте пошту" in response.text
    assert_reveals_nothing(response, card)
    assert snapshot(session) == before
    assert count_rows(session, Card) == 1 and welcome_entries(session) == 1
    wait_for(lambda: len(mail_server.mails()) == 1)
    assert mail_server.mails()[0]["To"] == "maria@example.com"  # the mailbox on file
    path = link_path(mail_server)
    page = client.get(f"{path}?lang=en")
    assert ticks(page.text) == {"email": "Email: maria.new@example.com"}
    assert client.post(path, data={"csrf": csrf(page.text), "email": "y"}).status_code == 303
    session.rollback()
    assert session.scalar(select(Customer.email)) == "maria.new@example.com"
    assert count_rows(session, Card) == 1 and welcome_entries(session) == 1


def test_a_phone_only_customer_with_a_new_email_is_sent_to_the_counter_and_nothing_is_kept(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    card = first_card(client, api, program, session, name="Марія", phone="+380671234567")
    before = snapshot(session)
    response = join(client, program["slug"], name="Марія", phone="+380671234567",
                    email="someone@example.com")
    assert response.status_code == 200 and "Ask at the counter" in response.text
    assert_reveals_nothing(response, card)
    assert snapshot(session) == before
    assert count_rows(session, CardRecoveryLink) == 0 and welcome_entries(session) == 1
    assert mail_server.mails() == []  # never to the address a stranger typed


def test_a_contact_of_another_customer_is_neither_offered_nor_stored(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    first_card(client, api, program, session, name="Олена", email="olena@example.com")
    first_card(client, api, program, session, name="Марія", phone="+380671234567")
    before = snapshot(session)
    response = join(client, program["slug"], name="Олена", email="olena@example.com",
                    phone="+380671234567")
    assert response.status_code == 200 and "Check your mail" in response.text
    assert snapshot(session) == before
    wait_for(lambda: len(mail_server.mails()) == 1)
    assert mail_server.mails()[0]["To"] == "olena@example.com"  # the email's customer
    page = client.get(link_path(mail_server))
    assert ticks(page.text) == {}  # Марія's phone is hers
    assert 'id="open-card"' in page.text


def test_boxes_left_unticked_store_nothing_and_the_offer_is_gone_with_the_link(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    first_card(client, api, program, session, name="Олена", email="olena@example.com")
    before = snapshot(session)
    join(client, program["slug"], name="Stranger", email="olena@example.com",
         phone="+380501112233", consent="y")
    wait_for(lambda: len(mail_server.mails()) == 1)
    path = link_path(mail_server)
    page = client.get(f"{path}?lang=en")
    assert set(ticks(page.text)) == {"name", "phone", "consent"}
    assert client.post(path, data={"csrf": csrf(page.text)}).status_code == 303
    assert snapshot(session) == before
    assert count_rows(session, AuditRecord) == 0
    session.rollback()
    link = session.scalars(select(CardRecoveryLink)).one()
    assert (link.proposed_name, link.proposed_phone, link.proposed_consent) == (
        None, None, False)


def test_a_new_name_ticked_reaches_the_pass(
    client: FlaskClient, api: Api, session: Session, mail_server: SmtpStandIn,
) -> None:
    program = welcome_program(api)
    card = first_card(client, api, program, session, name="Olena", email="olena@example.com")
    join(client, program["slug"], name="Олена Коваленко", email="olena@example.com")
    wait_for(lambda: len(mail_server.mails()) == 1)
    path = link_path(mail_server)
    page = client.get(path)
    session.rollback()
    rows_before = count_rows(session, OutboxMessage)
    assert client.post(path, data={"csrf": csrf(page.text), "name": "y"}).status_code == 303
    session.rollback()
    stored = session.get(Card, card["id"])
    assert stored is not None and stored.customer.name == "Олена Коваленко"
    assert stored.pass_version > 1
    session.rollback()
    assert count_rows(session, OutboxMessage) == rows_before + 1


def test_a_phone_another_customer_took_meanwhile_is_skipped_and_the_card_still_opens(
    client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
    mail_server: SmtpStandIn,
) -> None:
    card = first_card(client, api, program, session, name="Олена", email="olena@example.com")
    join(client, program["slug"], name="Олена", email="olena@example.com",
         phone="+380671234567")
    wait_for(lambda: len(mail_server.mails()) == 1)
    path = link_path(mail_server)
    page = client.get(path)
    assert "phone" in ticks(page.text)
    api.post(f"/api/v1/programs/{program['id']}/cards",
             {"name": "Марія", "phone": "+380671234567"})  # someone else has it now
    opened = client.post(path, data={"csrf": csrf(page.text), "phone": "y"})
    assert opened.status_code == 303
    number = card["number"]  # the page reads it out in groups of four
    assert (f'id="number">{number[:4]} {number[4:8]} {number[8:]}<'
            in client.get(opened.headers["Location"]).text)
    session.rollback()
    phones = dict(session.execute(select(Customer.name, Customer.phone)).all())
    assert phones == {"Олена": None, "Марія": "+380671234567"}
