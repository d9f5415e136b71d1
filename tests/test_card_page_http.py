"""The card's page over HTTP: reached by its secret link only, the wallet of the device,
the pass's barcode, and forms that refuse without their token or confirmation, change
nothing when refused, and never answer 500."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import AuditEvent, Card, Customer
from app.config import Config
from app.migrations import downgrade, upgrade
from tests.card_page_helpers import Shop, buy, enroll, open_shop, token_of, with_google
from tests.conftest import count_rows
from tests.wallet_helpers import pass_json

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 Chrome/126 Mobile"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126"
FORMATS = {"qr": zxingcpp.BarcodeFormat.QRCode, "pdf417": zxingcpp.BarcodeFormat.PDF417,
           "aztec": zxingcpp.BarcodeFormat.Aztec, "code128": zxingcpp.BarcodeFormat.Code128}


@pytest.fixture
def config(config: Config, tmp_path: Path) -> Config:
    """Google Wallet on: an Android phone gets its button (no request reaches Google)."""
    return with_google(config, tmp_path)


@pytest.fixture
def shop(app: Flask) -> Shop:
    return open_shop(app)


def path_of(card: dict[str, Any]) -> str:
    return f"/c/{token_of(card)}"


def csrf(client: FlaskClient, card: dict[str, Any]) -> str:
    page = client.get(path_of(card) + "?lang=en").get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def snapshot(session: Session, card: dict[str, Any]) -> tuple[Any, ...]:
    session.rollback()
    row = session.execute(select(Customer.name, Customer.email, Customer.phone,
                                 Customer.marketing_consent, Card.status)
                          .join(Card, Card.customer_id == Customer.id)
                          .where(Card.id == card["id"])).one()
    audit = count_rows(session, AuditEvent)
    session.rollback()
    return (*row, audit)


@pytest.mark.parametrize(("agent", "shown", "absent"), [
    (IPHONE, 'class="badge badge-apple"', 'class="badge badge-google"'),
    (ANDROID, 'class="badge badge-google"', 'class="badge badge-apple"'),
    (DESKTOP, 'id="page-qr"', 'class="badge'),
])
def test_the_page_offers_the_wallet_of_the_device_it_is_opened_on(
        client: FlaskClient, shop: Shop, agent: str, shown: str, absent: str) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    response = client.get(path_of(card), headers={"User-Agent": agent})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "style=" not in response.get_data(as_text=True)  # the policy forbids it
    page = response.get_data(as_text=True)
    assert shown in page and absent not in page


@pytest.mark.parametrize("barcode_format", sorted(FORMATS))
def test_the_page_shows_the_pass_barcode_a_scanner_reads(
        client: FlaskClient, shop: Shop, barcode_format: str) -> None:
    program = shop.api.patch(f"/api/v1/programs/{shop.points['id']}",
                             {"barcode_format": barcode_format}).get_json()
    assert program["barcode_format"] == barcode_format
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    page = client.get(path_of(card), headers={"User-Agent": IPHONE}).get_data(as_text=True)
    number = card["number"]
    assert f"{number[:4]} {number[4:8]} {number[8:]}" in page  # grouped for reading aloud
    image = client.get(path_of(card) + "/barcode.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    [read] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert read.format == FORMATS[barcode_format]
    assert read.text == card["barcode"]["message"]
    pkpass = pass_json(client.get(path_of(card) + "/pass.pkpass").data)
    assert pkpass["barcodes"][0]["message"] == read.text


def test_the_desktop_qr_code_opens_the_card_page(client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    image = client.get(path_of(card) + "/qr.png")
    [read] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert read.text == card["card_url"]


@pytest.mark.parametrize("suffix", ["", "/barcode.png", "/qr.png", "/pass.pkpass",
                                    "/delete"])
def test_a_forged_or_reissued_link_opens_nothing(
        client: FlaskClient, shop: Shop, suffix: str) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    serial = token_of(card).split(".")[0]
    assert client.get(f"/c/{serial}.forged{suffix}").status_code == 404
    assert client.get(f"/c/{serial}\x00{suffix}").status_code == 404
    shop.api.post(f"/api/v1/cards/{card['id']}/link")
    assert client.get(path_of(card) + suffix).status_code == 404


@pytest.mark.parametrize("form", ["details", "consent", "data.json", "delete"])
def test_a_form_without_the_session_token_changes_nothing(
        client: FlaskClient, session: Session, shop: Shop, form: str) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com", consent=True)
    before = snapshot(session, card)
    response = client.post(f"{path_of(card)}/{form}?lang=en", data={
        "csrf": "forged", "name": "Mallory", "email": "m@example.com", "phone": "",
        "consent": "no", "confirm": "yes"})
    assert response.status_code == 400
    assert "Your session expired" in response.get_data(as_text=True)
    assert snapshot(session, card) == before


def test_a_form_address_opened_as_a_page_leads_to_the_card(
        client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    response = client.get(f"{path_of(card)}/details?lang=ru")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{path_of(card)}?lang=ru")


@pytest.mark.parametrize("fields", [
    {"name": "x" * 10_000, "email": "o@example.com"},
    {"name": "Oksana\x1b", "email": "o@example.com"},
    {"name": "Oksana", "email": "o@@example.com"},
    {"name": "Oksana", "phone": "+" + "9" * 5000},
    {"name": " \t ", "email": "o@example.com"},
    {},
])
def test_hostile_details_answer_a_page_with_errors_and_change_nothing(
        client: FlaskClient, session: Session, shop: Shop, fields: dict[str, Any]) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    before = snapshot(session, card)
    response = client.post(f"{path_of(card)}/details?lang=en",
                           data={"csrf": csrf(client, card), **fields})
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert snapshot(session, card) == before


def test_deleting_asks_first_then_voids_the_pass_and_a_replay_changes_nothing(
        client: FlaskClient, session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    buy(shop, card, 20000)
    token = csrf(client, card)
    confirm = client.get(f"{path_of(card)}/delete?lang=en")
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.get_data(True)
    before = snapshot(session, card)
    unconfirmed = client.post(f"{path_of(card)}/delete", data={"csrf": token})
    assert unconfirmed.status_code == 400 and snapshot(session, card) == before

    done = client.post(f"{path_of(card)}/delete?lang=en",
                       data={"csrf": token, "confirm": "yes"})
    assert done.status_code == 303
    gone = client.get(path_of(card) + "?lang=en")
    assert gone.status_code == 410 and "This card was deleted" in gone.get_data(True)
    assert "Oksana" not in gone.get_data(as_text=True)
    voided = pass_json(client.get(path_of(card) + "/pass.pkpass").data)
    assert voided["voided"] is True
    assert client.get(path_of(card) + "/barcode.png").status_code == 404
    after = snapshot(session, card)
    for form in ("delete", "details", "consent", "data.json"):
        replay = client.post(f"{path_of(card)}/{form}", data={
            "csrf": token, "confirm": "yes", "name": "Oksana", "email": "o@example.com"})
        assert replay.status_code == 410
    assert snapshot(session, card) == after


def test_another_cards_data_is_not_reachable_from_a_card_page(
        client: FlaskClient, shop: Shop) -> None:
    mine = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    theirs = enroll(shop, shop.points, name="Taras", email="taras@example.com")
    page = client.get(path_of(mine)).get_data(as_text=True)
    assert "taras" not in page.lower() and theirs["number"] not in page
    exported = client.post(f"{path_of(mine)}/data.json", data={"csrf": csrf(client, mine)})
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    body = exported.get_json()
    assert body["card"]["number"] == mine["number"]
    assert "taras" not in exported.get_data(as_text=True).lower()


def test_a_sqlite_database_with_cards_migrates_to_0012_keeping_its_rows(
        tmp_path: Path, shop: Shop, app: Flask, config: Config) -> None:
    """Migration 0012 rebuilds ``customers`` and ``cards``, which other rows point at."""
    if not config.database_url.startswith("sqlite"):
        pytest.skip("the table rebuild is SQLite's; PostgreSQL alters the checks in place")
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    buy(shop, card, 20000)
    engine = app.extensions["loyalpass"].engine
    downgrade(engine, "0008")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM ledger_entries").scalar() == 2
        assert connection.exec_driver_sql("SELECT status FROM cards").scalar() == "active"
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert found is not None, field
    return html.unescape(found.group(1))


def _value(page: str, field: str) -> str:
    found = re.search(rf'<input [^>]*id="{field}"[^>]*value="([^"]*)"', page)
    assert found is not None, field
    return html.unescape(found.group(1))


@pytest.mark.parametrize(("lang", "name_missing", "email_taken"), [
    ("en", "Please write your name.", "belongs to another customer's card"),
    ("ru", "Напишите своё имя.", "уже указан в карте другого клиента"),
    ("uk", "Напишіть своє ім'я.", "вже вказана в картці іншого клієнта"),
])
def test_refused_details_are_said_beside_each_field_in_the_pages_language_all_at_once(
        client: FlaskClient, session: Session, shop: Shop, lang: str, name_missing: str,
        email_taken: str) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com")
    enroll(shop, shop.points, name="Taras", email="taras@example.com")
    before = snapshot(session, card)
    response = client.post(f"{path_of(card)}/details?lang={lang}", data={
        "csrf": csrf(client, card), "name": "  ", "email": "taras@example.com",
        "phone": "067 12"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _field_error(page, "name") == name_missing
    assert email_taken in _field_error(page, "email")  # the use case's, with the form's
    assert "+380 44 123 4567" in _field_error(page, "phone")
    assert (_value(page, "email"), _value(page, "phone")) == ("taras@example.com", "067 12")
    assert 'aria-describedby="phone-error"' in page and "Taras" not in page
    assert snapshot(session, card) == before


def test_a_consent_or_deletion_form_with_a_value_of_its_own_changes_nothing(
        client: FlaskClient, session: Session, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="o@example.com", consent=True)
    before = snapshot(session, card)
    token = csrf(client, card)
    consent = client.post(f"{path_of(card)}/consent?lang=en",
                          data={"csrf": token, "consent": "maybe"})
    assert consent.status_code == 422
    assert 'id="consent-error">Nothing was changed' in consent.get_data(as_text=True)
    deletion = client.post(f"{path_of(card)}/delete?lang=uk",
                           data={"csrf": token, "confirm": "no"})
    assert deletion.status_code == 400
    assert "Нічого не змінено" in deletion.get_data(as_text=True)
    assert snapshot(session, card) == before
