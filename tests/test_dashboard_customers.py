"""The customer pages: a merchant finds a customer by name, phone, email or card number
(an old one from an import too), opens the card, corrects its balance, blocks and
unblocks it and gives it a new link, each after confirming and each in the staff action
log; an analyst reads with contacts masked; a manager limited to a location finds and
opens its own cards only; a CSV of customers is previewed (every row's problems, in the
page's language, nothing written) and then imported; the export downloads."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer, LegacyCardNumber
from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.ledger.models import AuditRecord, LedgerEntry
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from tests.dashboard_helpers import (
    csrf_of,
    location,
    member,
    merchant_with_owner,
    send_mails,
    signed_in,
)
from tests.push_helpers import install, register


@dataclass(frozen=True)
class Shop:
    program_id: int
    owner: str
    olena: int  # enrolled at Podil
    petro: int  # enrolled at Lviv
    podil: int
    emails: dict[str, str]


@pytest.fixture
def shop(session: Session) -> Shop:
    merchant = merchant_with_owner(session, "Kava Bar")
    program = create_program(session, merchant_id=merchant.merchant_id,
                             data=ProgramCreate(name="Kava Club", country="UA"))
    podil = location(session, merchant.merchant_id, program.id, "Podil")
    lviv = location(session, merchant.merchant_id, program.id, "Lviv")
    olena = enroll(session, program=program, location_id=podil, data=EnrolmentInput(
        name="Олена Коваль", email="olena.koval@example.com", phone="+380671234567")).card.id
    petro = enroll(session, program=program, location_id=lviv, data=EnrolmentInput(
        name="Petro Bondar", email="petro@example.com")).card.id
    emails = {"owner": merchant.owner_email}
    for role in ("manager", "analyst", "cashier"):
        emails[role] = f"{role}@kavabar.example"
        member(session, merchant.merchant_id, role, emails[role])
    emails["podil"] = "podil@kavabar.example"
    member(session, merchant.merchant_id, "manager", emails["podil"], (podil,))
    emails["two"] = "two@kavabar.example"  # Podil and a third location: not Lviv
    member(session, merchant.merchant_id, "manager", emails["two"],
           (podil, location(session, merchant.merchant_id, program.id, "Obolon")))
    session.commit()
    return Shop(program.id, merchant.owner_email, olena, petro, podil, emails)


def _text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _post(client: FlaskClient, path: str, form: dict[str, Any]) -> Any:
    return client.post(path, data={**form, "csrf": csrf_of(client, "/dashboard/")})


def _balance_and_entries(session: Session, card_id: int) -> tuple[int, list[Any]]:
    session.rollback()
    try:
        card = session.get(Card, card_id)
        assert card is not None
        entries = [(entry.kind, entry.points, entry.reason, entry.staff_id)
                   for entry in session.scalars(select(LedgerEntry)
                                                .where(LedgerEntry.card_id == card_id))]
        return card.balance, entries
    finally:
        session.rollback()


def _card(session: Session, card_id: int) -> tuple[str, int]:
    session.rollback()
    try:
        card = session.get(Card, card_id)
        assert card is not None
        return card.status, card.link_version
    finally:
        session.rollback()


def _audited(session: Session) -> list[tuple[str, int | None]]:
    session.rollback()
    try:
        return [(row.action, row.staff_id) for row in session.scalars(
            select(AuditRecord).where(AuditRecord.card_id.is_not(None))
            .order_by(AuditRecord.id))]
    finally:
        session.rollback()


def test_a_name_fragment_a_phone_or_a_card_number_finds_the_card(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    path = f"/dashboard/programs/{shop.program_id}/customers"
    assert "Олена Коваль" in _text(owner, f"{path}?q=олена")
    found = _text(owner, f"{path}?q=067+123+45+67")
    assert "Олена Коваль" in found and "Petro Bondar" not in found
    number = _card_number(session, shop.petro)
    assert "Petro Bondar" in _text(owner, f"{path}?q={number[:4]}+{number[4:8]}+{number[8:]}")
    assert "olena.koval@example.com" in _text(owner, path)  # the owner reads contacts whole
    nothing = _text(owner, f"{path}?q=nobody")
    assert "Олена" not in nothing and "Petro" not in nothing
    assert owner.get(f"{path}?q=ol%00ena").status_code == 422


def _card_number(session: Session, card_id: int) -> str:
    session.rollback()
    card = session.get(Card, card_id)
    assert card is not None
    number = card.number
    session.rollback()
    return number


def test_an_analyst_reads_contacts_masked_and_has_no_actions(
        app: Flask, session: Session, shop: Shop) -> None:
    analyst = signed_in(app, shop.emails["analyst"])
    listed = _text(analyst, f"/dashboard/programs/{shop.program_id}/customers")
    assert "olena.koval@example.com" not in listed and "o***@example.com" in listed
    page = _text(analyst, f"/dashboard/cards/{shop.olena}")
    assert "+380671234567" not in page and "Олена Коваль" in page
    assert "/adjust" not in page and "/block" not in page
    assert _post(analyst, f"/dashboard/cards/{shop.olena}/block",
                 {"confirmed": "yes"}).status_code == 403
    assert _card(session, shop.olena) == ("active", 0)  # and nothing changed


def test_more_pages_by_key_and_htmx_appends_the_next_rows_only(
        app: Flask, session: Session, shop: Shop) -> None:
    program_path = f"/dashboard/programs/{shop.program_id}/customers"
    owner = signed_in(app, shop.owner)
    first = _text(owner, program_path)
    assert "more-" not in first  # two cards: one page
    rows = owner.get(f"{program_path}?before={shop.petro}", headers={"HX-Request": "true"})
    body = rows.get_data(as_text=True)
    assert "Олена Коваль" in body and "Petro Bondar" not in body and "<html" not in body


def test_a_balance_is_corrected_after_confirming_once_however_often_it_is_sent(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    path = f"/dashboard/cards/{shop.olena}/adjust"
    before = _balance_and_entries(session, shop.olena)
    asked = _post(owner, path, {"points": "150", "reason": "Lost receipt", "attempt": "a1"})
    assert asked.status_code == 200
    assert "Add 150 points to this card?" in asked.get_data(as_text=True)
    assert _balance_and_entries(session, shop.olena) == before  # asking changed nothing
    form = {"points": "150", "reason": "Lost receipt", "attempt": "a1", "confirmed": "yes"}
    assert _post(owner, path, form).status_code == 302
    assert _post(owner, path, form).status_code == 302  # a double click: one correction
    balance, entries = _balance_and_entries(session, shop.olena)
    assert balance == before[0] + 150
    assert entries[len(before[1]):] == [("adjust", 150, "Lost receipt", entries[-1][3])]
    assert entries[-1][3] is not None  # the member who did it
    page = _text(owner, f"/dashboard/cards/{shop.olena}?done=adjust")
    assert "Lost receipt" in page and "+150" in page
    assert ("adjust", entries[-1][3]) in _audited(session)


def test_taking_more_points_than_the_card_holds_is_refused_and_nothing_changes(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    before = _balance_and_entries(session, shop.olena)
    refused = _post(owner, f"/dashboard/cards/{shop.olena}/adjust", {
        "points": "-100000", "reason": "typo", "attempt": "b1", "confirmed": "yes"})
    assert refused.status_code == 409
    assert "fewer points" in refused.get_data(as_text=True)
    zero = _post(owner, f"/dashboard/cards/{shop.olena}/adjust", {
        "points": "0", "reason": "x", "attempt": "b2", "confirmed": "yes"})
    assert zero.status_code == 422
    assert _balance_and_entries(session, shop.olena) == before


def test_block_unblock_and_a_new_link_each_ask_first_and_are_logged(
        app: Flask, session: Session, shop: Shop) -> None:
    manager = signed_in(app, shop.emails["manager"])
    card_path = f"/dashboard/cards/{shop.olena}"
    asked = _post(manager, f"{card_path}/block", {})
    assert asked.status_code == 200 and "Block this card?" in asked.get_data(as_text=True)
    assert _card(session, shop.olena) == ("active", 0)
    assert _post(manager, f"{card_path}/block", {"confirmed": "yes"}).status_code == 302
    assert _card(session, shop.olena) == ("blocked", 0)
    assert "Unblock…" in _text(manager, card_path)
    assert _post(manager, f"{card_path}/unblock", {"confirmed": "yes"}).status_code == 302
    assert _post(manager, f"{card_path}/link", {}).status_code == 200
    assert _card(session, shop.olena) == ("active", 0)
    assert _post(manager, f"{card_path}/link", {"confirmed": "yes"}).status_code == 302
    assert _card(session, shop.olena) == ("active", 1)
    assert [action for action, _ in _audited(session)] == ["block", "unblock",
                                                           "link_reissued"]
    assert all(staff_id is not None for _, staff_id in _audited(session))


@pytest.mark.parametrize("who", ["podil", "two"])
def test_a_manager_limited_to_a_location_finds_and_opens_its_cards_only(
        app: Flask, session: Session, shop: Shop, who: str) -> None:
    podil = signed_in(app, shop.emails[who])
    listed = _text(podil, f"/dashboard/programs/{shop.program_id}/customers")
    assert "Олена Коваль" in listed and "Petro Bondar" not in listed
    assert "Petro" not in _text(podil, f"/dashboard/programs/{shop.program_id}/customers"
                                       "?q=petro")
    assert podil.get(f"/dashboard/cards/{shop.petro}").status_code == 403
    before = _balance_and_entries(session, shop.petro)
    refused = _post(podil, f"/dashboard/cards/{shop.petro}/adjust", {
        "points": "10", "reason": "x", "attempt": "c1", "confirmed": "yes"})
    assert refused.status_code == 403
    for action in ("block", "link", "mail-link"):
        assert _post(podil, f"/dashboard/cards/{shop.petro}/{action}",
                     {"confirmed": "yes"}).status_code == 403
    exported = podil.get(f"/dashboard/programs/{shop.program_id}/customers.csv")
    assert "Олена Коваль" in exported.get_data(as_text=True)
    assert "Petro Bondar" not in exported.get_data(as_text=True)
    assert _balance_and_entries(session, shop.petro) == before
    assert _card(session, shop.petro) == ("active", 0)
    # Its own location's card it reads and corrects.
    assert podil.get(f"/dashboard/cards/{shop.olena}").status_code == 200
    assert _post(podil, f"/dashboard/cards/{shop.olena}/adjust", {
        "points": "10", "reason": "x", "attempt": "c2", "confirmed": "yes"}).status_code == 302


CSV = ("name;phone;email;old card number;balance\n"
       "Taras Shevchenko;;taras@example.com;0042-7781;300\n"
       "Ivan;;not-an-email;;\n"
       "Lesia Ukrainka;;lesia@example.com;;20\n")


def _rows(session: Session) -> tuple[int, int, int]:
    session.rollback()
    try:
        return tuple(len(session.scalars(select(model.id)).all())  # type: ignore[return-value]
                     for model in (Customer, Card, LegacyCardNumber))
    finally:
        session.rollback()


def _upload(client: FlaskClient, program_id: int, text: str, lang: str = "en") -> Any:
    return client.post(f"/dashboard/programs/{program_id}/import?lang={lang}", data={
        "csrf": csrf_of(client, "/dashboard/"), "file": (io.BytesIO(text.encode()),
                                                         "customers.csv")},
        content_type="multipart/form-data")


def test_a_csv_is_previewed_with_its_problems_in_the_pages_language_then_imported(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    before = _rows(session)
    preview = _upload(owner, shop.program_id, CSV, "uk")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200, page
    assert "Це не адреса електронної пошти." in page  # row 3's problem, in Ukrainian
    assert re.search(r"<td data-label=\"Рядок\">3</td>", page)
    assert "Імпортувати 2 клієнтів" in page
    assert _rows(session) == before  # the preview wrote nothing
    data = re.search(r'<textarea name="data"[^>]*>(.*?)</textarea>', page, re.S)
    assert data is not None
    form = {"confirmed": "yes", "data": html.unescape(data.group(1))}
    refused = _post(owner, f"/dashboard/programs/{shop.program_id}/import", form)
    assert refused.status_code == 422 and _rows(session) == before
    done = _post(owner, f"/dashboard/programs/{shop.program_id}/import",
                 {**form, "skip_invalid": "y"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert _rows(session) == (before[0] + 2, before[1] + 2, before[2] + 1)
    # The old number finds its card in the page's search, as in the API's.
    found = _text(owner, f"/dashboard/programs/{shop.program_id}/customers?q=0042+7781")
    assert "Taras Shevchenko" in found and "Lesia" not in found


def test_a_file_that_is_no_csv_or_none_is_said_and_nothing_is_written(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    before = _rows(session)
    assert _upload(owner, shop.program_id, "").status_code == 422
    assert _upload(owner, shop.program_id, "\x00\x01PK").status_code == 422
    assert _rows(session) == before


def test_the_export_downloads_the_programs_customers_as_csv_for_an_analyst_too(
        app: Flask, session: Session, shop: Shop) -> None:
    analyst = signed_in(app, shop.emails["analyst"])
    response = analyst.get(f"/dashboard/programs/{shop.program_id}/customers.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert "Олена Коваль" in text and "Petro Bondar" in text
    assert "attachment" in response.headers["Content-Disposition"]


def test_the_cards_link_is_mailed_to_its_holder_after_confirming_within_a_budget(
        app: Flask, session: Session, shop: Shop) -> None:
    owner = signed_in(app, shop.owner)
    path = f"/dashboard/cards/{shop.olena}/mail-link"
    asked = _post(owner, path, {})
    assert "Mail the customer a link to their card?" in asked.get_data(as_text=True)
    assert send_mails(app) == []  # asking queued nothing
    assert _post(owner, path, {"confirmed": "yes"}).status_code == 302
    sent = send_mails(app)
    assert [message["To"] for message in sent] == ["olena.koval@example.com"]
    assert "link_mailed" in [action for action, _ in _audited(session)]
    for _ in range(2):
        assert _post(owner, path, {"confirmed": "yes"}).status_code == 302
    over = _post(owner, path, {"confirmed": "yes"})  # the fourth within the hour
    assert over.status_code == 409
    assert "within the hour" in over.get_data(as_text=True)
    assert len(send_mails(app)) == 2


def test_a_cards_page_shows_its_apple_devices_and_the_mails_to_its_holder(
        app: Flask, session: Session, shop: Shop) -> None:
    card = session.get(Card, shop.olena)
    assert card is not None
    url = app.extensions["loyalpass"].wallet.apple_pass_url(card)
    session.rollback()
    device = app.test_client()
    installed = install(device, {"apple_pass_url": url})
    assert register(device, installed, "a1b2c3d4e5f6a7b8c9d0", "ff" * 32) == 201
    owner = signed_in(app, shop.owner)
    before = _text(owner, f"/dashboard/cards/{shop.olena}")
    assert "Device a1b2c3d4…" in before and "No mails." in before
    assert _post(owner, f"/dashboard/cards/{shop.olena}/mail-link",
                 {"confirmed": "yes"}).status_code == 302
    waiting = _text(owner, f"/dashboard/cards/{shop.olena}")
    assert "The card&#39;s link: On its way" in waiting
    send_mails(app)
    assert "The card&#39;s link: Sent" in _text(owner, f"/dashboard/cards/{shop.olena}")
