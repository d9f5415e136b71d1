"""What a customer's pass says, through the real service: the reward a completed stamp card
earned (on the front, announced), what to spend for the next tier (in the holder's
language), the last movements on the back, and the same on the Google object. On SQLite
and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.wallet.facts import card_facts
from app.wallet.google_shapes import google_card
from app.wallet.labels import label_set, reward_steps
from passes.google import GoogleProgram
from passes.google.objects import object_patch
from tests.conftest import Api
from tests.wallet_helpers import pass_field, pass_json


def enroll(api: Api, program: dict[str, Any], name: str, locale: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com",
                         "locale": locale})
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


def buy(api: Api, card: dict[str, Any], amount: int, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount, **fields},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def the_pass(client: FlaskClient, card: dict[str, Any]) -> dict[str, Any]:
    response = client.get(urlsplit(card["apple_pass_url"]).path)
    assert response.status_code == 200
    return pass_json(response.data)


def stamp_program(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {
        "name": "Bean There", "kind": "stamps", "stamps_required": 8,
        "reward_text": "Free coffee", "currency": "UAH", "locales": ["en", "uk"]})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_after_the_eighth_stamp_the_pass_shows_the_free_coffee_and_announces_it(
        api: Api, client: FlaskClient) -> None:
    card = enroll(api, stamp_program(api), "Sam Taylor", "en")
    for _ in range(7):
        buy(api, card, 5_000)
    before = the_pass(client, card)
    assert pass_field(before, "stamps")["value"] == "7/8"
    assert pass_field(before, "reward") == {"key": "reward", "label": "Free coffee",
                                            "value": "1 more stamp to your reward"}
    assert buy(api, card, 5_000)["rewards"] == 1
    after = the_pass(client, card)
    stamps, reward = pass_field(after, "stamps"), pass_field(after, "reward")
    assert stamps["value"] == "0/8" and "changeMessage" not in stamps  # not "0/8" news
    assert reward["value"] == "Free coffee"
    assert reward["changeMessage"] == "Your reward is ready: %@"
    assert after["storeCard"]["secondaryFields"][0]["key"] == "reward"  # on the front
    assert pass_field(after, "history")["value"].split("\n")[0].endswith("· Reward earned")

    buy(api, card, 5_000, redeem_rewards=1)  # the coffee is handed over, a stamp is added
    used = the_pass(client, card)
    assert pass_field(used, "reward") == {"key": "reward", "label": "Free coffee",
                                          "value": "7 more stamps to your reward"}
    assert pass_field(used, "stamps")["value"] == "1/8"


def test_a_tiered_card_says_what_to_spend_for_the_next_tier_in_the_holders_language(
        api: Api, client: FlaskClient, program: dict[str, Any]) -> None:
    """The fixture's program: Silver from 0, Gold from 5,000.00 UAH."""
    english = enroll(api, program, "Sam Taylor", "en")
    russian = enroll(api, program, "Иван Петров", "ru")
    for card in (english, russian):
        buy(api, card, 100_000)
    assert pass_field(the_pass(client, english), "next")["value"] == \
        "Spend 4,000 UAH more for Gold"
    assert pass_field(the_pass(client, russian), "next")["value"] == \
        "Ещё 4\u00a0000 UAH до уровня Gold"
    buy(api, english, 450_050)
    gold = the_pass(client, english)
    assert pass_field(gold, "tier")["value"] == "Gold"
    assert all(field["key"] != "next" for group in gold["storeCard"].values()
               for field in group)


def test_the_back_lists_the_last_movements_newest_first_in_the_holders_language(
        api: Api, client: FlaskClient, program: dict[str, Any]) -> None:
    card = enroll(api, program, "Олена Коваленко", "uk")
    buy(api, card, 100_000)  # 2 % of 1,000.00 UAH: 20 points
    purchase = buy(api, card, 60_000, redeem_points=20)  # 2 % of the 580.00 paid: 11
    api.post(f"/api/v1/pos/purchases/{purchase['id']}/refund", {},
             headers={"Idempotency-Key": uuid.uuid4().hex})
    lines = pass_field(the_pass(client, card), "history")["value"].split("\n")
    assert [line.split(" · ", 1)[1] for line in lines] == [
        "Повернення · \u221211", "Повернення · +20", "Покупка · +11",
        "Оплата балами · \u221220", "Покупка · +20"]
    assert "changeMessage" not in pass_field(the_pass(client, card), "history")


def test_the_google_object_shows_the_reward_the_next_tier_and_the_movements(
        api: Api, session: Session, program: dict[str, Any]) -> None:
    stamps = enroll(api, stamp_program(api), "Sam Taylor", "en")
    for _ in range(8):
        buy(api, stamps, 5_000)
    tiered = enroll(api, program, "Sam Taylor", "en")
    buy(api, tiered, 100_000)
    session.rollback()
    card = session.get(Card, stamps["id"])
    assert card is not None
    google = GoogleProgram(issuer_id="3388000000012345678", class_suffix="bean",
                           issuer_name="Bean", program_name="Bean There",
                           logo_url="https://cards.example.test/logo.png",
                           background_color="#112233", locales=("en",), kind="stamps",
                           stamps_required=8, reward_text="Free coffee",
                           labels=label_set(("en",)),
                           reward_steps=reward_steps(card.program, ("en",)))
    view = google_card(card, barcode_message="x", customer_url="https://c.example/c/1",
                       facts=card_facts(session, card))
    patch = object_patch(google, view)
    assert patch["secondaryLoyaltyPoints"]["balance"] == {"string": "Free coffee"}
    assert patch["textModulesData"][-1]["id"] == "history"
    other = session.get(Card, tiered["id"])
    assert other is not None
    tiered_view = google_card(other, barcode_message="x", customer_url="https://c.example/c/2",
                              facts=card_facts(session, other))
    assert tiered_view.next_step == "Spend 4,000 UAH more for Gold"
    session.rollback()
