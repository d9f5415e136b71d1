"""Offers that act at the till, in the dashboard: the offer form's mechanic (kept, and a
bad one refused naming its field with nothing written) and the cashier screen listing a
card's coupons, applying one once and saying so when it cannot."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ledger.models import LedgerEntry
from app.offers.models import CouponRedemption, Offer
from tests.conftest import Api, count_rows
from tests.dashboard_helpers import csrf_of, merchant_with_owner, signed_in
from tests.test_dashboard_cashier import _card_page, _sell


def _shop(app: Flask, session: Session) -> tuple[Api, dict[str, Any], dict[str, Any], str]:
    owner = merchant_with_owner(session, "Kava Bar")
    api = Api(app.test_client(), owner.api_key)
    program = api.post("/api/v1/programs", {
        "name": "Kava Club", "currency": "UAH", "earn_percent": 10,
        "point_value": 100}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Olena Koval", "phone": "+380671234567", "marketing_consent": True}).get_json()
    return api, program, card, owner.owner_email


def test_the_offer_form_saves_a_multiplier_and_refuses_a_factor_of_one(
        app: Flask, session: Session) -> None:
    api, program, _, email = _shop(app, session)
    boss = signed_in(app, email)
    path = f"/dashboard/programs/{program['id']}/offers/new"
    form = {"title_en": "Double points on Monday", "body_en": "Every Monday",
            "mechanic": "multiplier",
            "mechanic_factor": "1", "csrf": csrf_of(boss, "/dashboard/")}
    refused = boss.post(path, data=form)
    assert refused.status_code == 422
    assert 'id="mechanic_factor"' in refused.get_data(as_text=True)
    assert count_rows(session, Offer) == 0
    saved = boss.post(path, data={**form, "mechanic_factor": "2"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    offer_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    assert api.get(f"/api/v1/offers/{offer_id}").get_json()["mechanic"] == {
        "type": "multiplier", "factor": 2}
    page = boss.get(f"/dashboard/offers/{offer_id}", query_string={"lang": "uk"})
    assert "Бали множаться на 2 за кожну покупку" in page.get_data(as_text=True)


def test_the_cashier_screen_lists_a_coupon_applies_it_once_and_refuses_it_after(
        app: Flask, session: Session) -> None:
    api, program, card, email = _shop(app, session)
    now = datetime.now(UTC)
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": "Croissant coupon", "starts_at": (now - timedelta(hours=1)).isoformat(),
        "mechanic": {"type": "coupon", "points": 25, "text": "Free croissant"}}).get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    boss = signed_in(app, email)
    page = _card_page(boss, card["id"])
    assert "Coupons to apply" in page and "Free croissant" in page
    assert f'<option value="{offer["id"]}">Croissant coupon</option>' in page
    used = _sell(boss, card["id"], "100", coupon=str(offer["id"]))
    assert used.status_code == 201, used.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(LedgerEntry.points).where(
        LedgerEntry.offer_id == offer["id"])) == 25
    session.rollback()
    after = _card_page(boss, card["id"])
    assert "Coupons to apply" not in after and f'value="{offer["id"]}"' not in after
    again = _sell(boss, card["id"], "100", coupon=str(offer["id"]))
    assert again.status_code == 409
    assert "used this coupon already" in again.get_data(as_text=True)
    assert count_rows(session, CouponRedemption) == 1
    assert _sell(boss, card["id"], "100", key=uuid.uuid4().hex).status_code == 201
