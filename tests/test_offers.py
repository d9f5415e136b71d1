"""Offers: created for a program, published to its audience, shown on the passes of the
cards they reach, and pushed to those cards' devices only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.delivery.pushes import Worker
from app.delivery.workers import make_workers
from app.integrations.fakes import FakePushSender
from app.merchants.service import create_api_key
from app.offers.models import CardOffer, Offer
from tests.conftest import Api, count_rows, new_merchant
from tests.push_helpers import install, pass_json, register


def enroll(api: Api, program: dict[str, Any], email: str, *, consent: bool = True
           ) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Guest", "email": email, "marketing_consent": consent})
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


def buy(api: Api, card: dict[str, Any], amount: int) -> None:
    response = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.get_json()


def create(api: Api, program: dict[str, Any], **fields: Any) -> Any:
    return api.post(f"/api/v1/programs/{program['id']}/offers",
                    {"title": "Free croissant", "body": "With any coffee until Sunday",
                     **fields})


def test_an_offer_is_created_as_a_draft_with_the_contract_fields(
        api: Api, program: dict[str, Any]) -> None:
    ends = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = create(api, program, ends_at=ends,
                      audience={"tiers": ["Gold"], "inactive_days": 30, "holdout_percent": 10})
    assert response.status_code == 201
    offer = response.get_json()
    assert {"id", "title", "body", "starts_at", "ends_at", "audience", "promotional",
            "status"} <= set(offer)
    assert offer["status"] == "draft" and offer["promotional"] is True
    assert offer["audience"] == {"tiers": ["Gold"], "inactive_days": 30, "holdout_percent": 10}
    listed = api.get(f"/api/v1/programs/{program['id']}/offers").get_json()["offers"]
    assert [item["id"] for item in listed] == [offer["id"]]


@pytest.mark.parametrize(("fields", "field"), [
    ({"audience": {"tiers": ["Platinum"]}}, "audience.tiers"),
    ({"audience": {"segments": ["whales"]}}, "audience.segments"),
    ({"audience": {"holdout_percent": 95}}, "audience.holdout_percent"),
    ({"audience": {"inactive_days": True}}, "audience.inactive_days"),
    ({"audience": {"everyone": True}}, "audience.everyone"),
    ({"starts_at": "2026-11-23T10:00:00"}, "starts_at"),
    ({"starts_at": 1_790_000_000}, "starts_at"),
    ({"starts_at": "2026-11-23T10:00:00Z", "ends_at": "2026-11-22T10:00:00Z"}, "(body)"),
    ({"title": "x" * 81}, "title"),
    ({"promotional": "yes"}, "promotional"),
    ({"ends_at": "9999-12-31T23:59:59-12:00"}, "ends_at"),
    ({"starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
    ({"starts_at": "9999-12-31T23:00:00-01:00"}, "starts_at"),
    ({"ends_at": "10000-01-01T00:00:00Z"}, "ends_at"),
    ({"ends_at": "2026-02-30T00:00:00Z"}, "ends_at"),
    ({"ends_at": "2026-01-01T00:00:00+25:00"}, "ends_at"),
])
def test_a_bad_offer_is_422_naming_the_field_and_writes_nothing(
        api: Api, program: dict[str, Any], session: Session, fields: dict[str, Any],
        field: str) -> None:
    response = create(api, program, **fields)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"] == field
    assert count_rows(session, Offer) == 0


def test_offer_dates_at_the_very_edges_of_the_calendar_in_utc_are_kept(
        api: Api, program: dict[str, Any]) -> None:
    response = create(api, program, starts_at="0001-01-01T00:00:00Z",
                      ends_at="9999-12-31T13:59:59-10:00")
    assert response.status_code == 201, response.get_json()
    offer = response.get_json()
    assert (offer["starts_at"], offer["ends_at"]) == ("0001-01-01T00:00:00Z",
                                                      "9999-12-31T23:59:59Z")
    again = api.get(f"/api/v1/offers/{offer['id']}").get_json()
    assert again["ends_at"] == "9999-12-31T23:59:59Z" and again["status"] == "draft"


def test_publishing_reaches_consenting_cards_of_the_audience_and_shows_on_their_passes(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    gold = enroll(api, program, "gold@example.com")
    buy(api, gold, 500_000)  # Gold from 5,000.00 UAH
    silver = enroll(api, program, "silver@example.com")
    silent = enroll(api, program, "no-consent@example.com", consent=False)
    everyone = create(api, program).get_json()
    golden = create(api, program, title="Gold evening", audience={"tiers": ["Gold"]}).get_json()
    before = pass_json(client.get(urlsplit(silver["apple_pass_url"]).path).data)
    for offer, cards in ((everyone, 2), (golden, 1)):
        published = api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()
        assert published == {"cards": cards, "status": "published"}

    def shown(card: dict[str, Any]) -> str:
        document = pass_json(client.get(urlsplit(card["apple_pass_url"]).path).data)
        back = {field["key"]: field for field in document["storeCard"]["backFields"]}
        return str(back["offers_now"]["value"])

    assert shown(gold) == "Gold evening\nFree croissant"
    assert shown(silver) == "Free croissant"
    assert shown(silent) == "Зараз пропозицій немає"  # the program speaks Ukrainian first
    after = pass_json(client.get(urlsplit(silver["apple_pass_url"]).path).data)
    assert before["storeCard"]["backFields"][0]["value"] == "Зараз пропозицій немає"
    assert after["storeCard"]["auxiliaryFields"][0]["value"] == "Free croissant"
    lookup = api.post("/api/v1/pos/lookup", {"barcode": gold["number"]}).get_json()
    assert [offer["title"] for offer in lookup["offers"]] == ["Gold evening", "Free croissant"]
    assert api.get(f"/api/v1/offers/{everyone['id']}").get_json()["status"] == "active"


def test_publishing_pushes_the_devices_of_the_cards_it_reaches_and_no_others(
        app: Flask, api: Api, program: dict[str, Any], client: FlaskClient) -> None:
    reached = enroll(api, program, "yes@example.com")
    left_out = enroll(api, program, "no@example.com", consent=False)
    assert register(client, install(client, reached), "device-a", "aa" * 32) == 201
    assert register(client, install(client, left_out), "device-b", "bb" * 32) == 201
    sender = FakePushSender()
    (push,) = [loop for loop in make_workers(app.extensions["loyalpass"], push_sender=sender)
               if isinstance(loop, Worker)]
    while push.run_once():
        pass
    sent_before = len(sender.sent)
    offer = create(api, program).get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    while push.run_once():
        pass
    assert [token for token, _ in sender.sent[sent_before:]] == ["aa" * 32]


def test_the_holdout_is_a_stable_share_kept_out_and_recorded(
        api: Api, program: dict[str, Any], session: Session) -> None:
    for number in range(40):
        enroll(api, program, f"guest{number}@example.com")
    offer = create(api, program, audience={"holdout_percent": 50}).get_json()
    reached = api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()["cards"]
    held = count_rows(session, CardOffer) - reached
    assert count_rows(session, CardOffer) == 40
    assert 8 <= held <= 32 and reached + held == 40


def test_an_offer_is_published_once_and_only_by_its_merchant(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    enroll(api, program, "guest@example.com")
    offer = create(api, program).get_json()
    other = new_merchant(client, session, name="Other Shop")
    assert other.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 404
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    again = api.post(f"/api/v1/offers/{offer['id']}/publish")
    assert again.status_code == 409 and again.get_json()["code"] == "offer_published"
    assert count_rows(session, CardOffer) == 1


def test_cashiers_and_analysts_may_not_create_or_publish_offers(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    offer = create(api, program).get_json()
    merchant_id = session.get(Offer, offer["id"]).merchant_id  # type: ignore[union-attr]
    for role in ("cashier", "analyst"):
        other = Api(client, create_api_key(session, merchant_id=merchant_id, role=role))
        assert create(other, program).status_code == 403
        assert other.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 403


def test_an_offer_that_starts_later_is_scheduled_and_reaches_no_card_yet(
        api: Api, program: dict[str, Any], session: Session) -> None:
    enroll(api, program, "early@example.com")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    offer = create(api, program, starts_at=later).get_json()
    response = api.post(f"/api/v1/offers/{offer['id']}/publish")
    assert response.status_code == 202
    assert response.get_json() == {"cards": 0, "status": "scheduled"}
    assert api.get(f"/api/v1/offers/{offer['id']}").get_json()["status"] == "scheduled"
    assert count_rows(session, CardOffer) == 0
    again = api.post(f"/api/v1/offers/{offer['id']}/publish")
    assert again.status_code == 409 and again.get_json()["code"] == "offer_published"
