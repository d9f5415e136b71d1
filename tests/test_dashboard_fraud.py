"""The fraud detector's alerts and thresholds in the dashboard, on SQLite and PostgreSQL:
the alerts page says each pattern in the page's language and lists its evidence; the
program editor shows the thresholds with their defaults, saves a change through the API's
rules, and a refused one comes back beside its field with nothing changed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.ledger.fraud_detector import SETTLE, detect_fraud
from app.ledger.models import Alert
from app.merchants.models import Program
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from tests.conftest import Api
from tests.dashboard_helpers import location, member, merchant_with_owner, signed_in


@pytest.fixture
def kava(session: Session, client: FlaskClient) -> dict[str, Any]:
    ours = merchant_with_owner(session, "Kava Bar")
    program = create_program(session, merchant_id=ours.merchant_id, data=ProgramCreate(
        name="Kava", locales=["uk", "en"], currency="UAH", earn_percent=5))
    made = {"owner": ours.owner_email, "program": program.id,
            "api": Api(client, ours.api_key), "merchant": ours.merchant_id}
    session.rollback()
    return made


def _form(client: FlaskClient, program_id: int) -> dict[str, Any]:
    html = client.get(f"/dashboard/programs/{program_id}").get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    form: dict[str, Any] = {"csrf": found.group(1)}
    for name, value in re.findall(r'<input type="(?:text|color)" id="f-[^"]+" name="([^"]+)" '
                                  r'value="([^"]*)"', html):
        form[name] = value
    form["locales"] = re.findall(r'name="locales" value="(\w+)" checked', html)
    form["kind"], form["barcode_format"] = "points", "qr"
    return form


def _fraud(session: Session, program_id: int) -> dict[str, Any]:
    session.expire_all()
    program = session.get(Program, program_id)
    assert program is not None
    stored = dict(program.fraud)
    session.rollback()
    return stored


def test_the_alerts_page_says_the_pattern_in_ukrainian_and_lists_the_purchases(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    api = kava["api"]
    card = api.post(f"/api/v1/programs/{kava['program']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    for amount in (12_300, 12_400, 12_500, 12_600, 12_700):
        made = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
        assert made.status_code == 201
    session.rollback()
    assert detect_fraud(session, now=utcnow() + SETTLE + timedelta(minutes=1)).raised == 1

    client = signed_in(app, kava["owner"])
    client.get("/dashboard/?lang=uk")
    html = client.get("/dashboard/alerts").get_data(as_text=True)
    assert "Покупок за цією карткою в одного касира за один день: 5." in html
    assert "Докази" in html and card["number"] in html
    listed = re.findall(r"<td>(\d+)\u00a0₴</td>", html)
    assert listed == ["123", "124", "125", "126", "127"], listed  # the purchases, in order


def test_the_editor_shows_the_thresholds_and_saves_a_change_and_refuses_a_bad_one(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    form = _form(client, kava["program"])
    assert form["fraud-same_card_scans_per_day"] == "5"
    assert form["fraud-enrolment_window_minutes"] == "60"

    form.update({"fraud-same_card_scans_per_day": "1"})
    refused = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    assert refused.status_code == 422
    assert 'id="f-fraud-same_card_scans_per_day-error"' in refused.get_data(as_text=True)
    assert _fraud(session, kava["program"]) == {}

    form.update({"fraud-same_card_scans_per_day": "3", "fraud-redeem_elsewhere_minutes": "",
                 "fraud-threshold_days": ""})
    saved = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    stored = _fraud(session, kava["program"])
    assert (stored["same_card_scans_per_day"], stored["redeem_elsewhere_minutes"],
            stored["threshold_days"]) == (3, None, 30)
    shown = kava["api"].get(f"/api/v1/programs/{kava['program']}").get_json()["fraud"]
    assert shown["same_card_scans_per_day"] == 3 and shown["redeem_elsewhere_minutes"] is None


def _sell(client: FlaskClient, card_id: int, amount: str) -> None:
    html = client.get(f"/dashboard/cashier/cards/{card_id}").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([^"]+)"', html)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert key is not None and csrf is not None
    sold = client.post(f"/dashboard/cashier/cards/{card_id}/purchases", data={
        "csrf": csrf.group(1), "key": key.group(1), "amount": amount})
    assert sold.status_code == 201, sold.status_code


def test_a_member_at_the_cashier_screen_scanning_one_card_is_named_by_the_alert(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    card = kava["api"].post(f"/api/v1/programs/{kava['program']}/cards",
                            {"name": "Olena", "email": "olena@example.com"}).get_json()
    podil = location(session, kava["merchant"], kava["program"], "Podil")
    obolon = location(session, kava["merchant"], kava["program"], "Obolon")
    till = member(session, kava["merchant"], "cashier", "till@kavabar.example", (podil,))
    member(session, kava["merchant"], "manager", "podil@kavabar.example", (podil,))
    member(session, kava["merchant"], "manager", "obolon@kavabar.example", (obolon,))
    cashier = signed_in(app, "till@kavabar.example")
    for amount in ("10", "11", "12", "13", "14"):
        _sell(cashier, card["id"], amount)
    session.rollback()
    assert detect_fraud(session, now=utcnow() + SETTLE + timedelta(minutes=1)).raised == 1
    alert = session.scalars(select(Alert)).one()
    assert (alert.kind, alert.staff_id, alert.api_key_id, alert.location_id) == (
        "repeated_scans", till, None, podil)
    session.rollback()
    seen_at_podil = signed_in(app, "podil@kavabar.example").get("/dashboard/alerts?lang=en")
    assert "Cashier till" in seen_at_podil.get_data(as_text=True)
    seen_at_obolon = signed_in(app, "obolon@kavabar.example").get("/dashboard/alerts?lang=en")
    assert "Cashier till" not in seen_at_obolon.get_data(as_text=True)
