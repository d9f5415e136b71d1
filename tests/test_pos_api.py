"""The POS API: lookup, purchases with earn and redeem, refunds, adjustments, blocking,
idempotency, velocity limits and roles, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.ledger.models import Alert, AuditRecord, LedgerEntry, Purchase
from app.merchants.models import Location, Program
from app.merchants.service import create_api_key
from app.outbox.models import OutboxMessage
from tests.conftest import Api, count_rows, new_merchant


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def buy(api: Api, card: dict[str, Any], amount: int, redeem: int = 0,
        key: str | None = None, **extra: Any) -> Any:
    body = {"barcode": card["barcode"]["message"], "amount": amount, **extra}
    if redeem:
        body["redeem_points"] = redeem
    return api.post("/api/v1/pos/purchases", body,
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def ledger_sum(session: Session, card_id: int) -> int:
    session.rollback()
    total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                           .where(LedgerEntry.card_id == card_id))
    session.rollback()
    return int(total or 0)


@pytest.fixture
def shop(api: Api) -> dict[str, Any]:
    """A program with 2 % back, a point worth 1.00, Gold at 5 000.00 and 50 welcome points."""
    program = api.post("/api/v1/programs", {
        "name": "Kava", "currency": "UAH", "earn_percent": 2, "point_value": 100,
        "welcome_points": 50, "max_redeem_percent": 50,
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2},
                  {"name": "Gold", "min_spend": 500000, "earn_percent": 5}],
    }).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    return {"program": program, "card": card}


def test_a_new_card_starts_with_its_welcome_points_and_first_tier(shop: dict[str, Any]) -> None:
    assert shop["card"]["balance"] == 50
    assert shop["card"]["tier"] == "Silver"


def test_a_purchase_earns_the_program_percentage_rounded_down(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    response = buy(api, shop["card"], 123_456)  # 1 234.56 UAH at 2 % = 24.69 → 24 points
    assert response.status_code == 201
    body = response.get_json()
    assert body["earned"] == 24 and body["redeemed"] == 0
    assert body["balance"] == 74 and body["tier"] == "Silver"
    assert ledger_sum(session, shop["card"]["id"]) == 74


def test_redeeming_pays_part_of_the_purchase_and_earns_on_the_rest(
    api: Api, shop: dict[str, Any]
) -> None:
    body = buy(api, shop["card"], 10_000, redeem=40).get_json()
    # 40 points pay 40.00 of 100.00; 60.00 paid earns 2 % = 1.20 → 1 point.
    assert body["redeemed"] == 40 and body["amount_paid"] == 6_000 and body["earned"] == 1
    assert body["balance"] == 50 - 40 + 1


def test_redeeming_more_than_the_balance_is_409_and_changes_nothing(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    response = buy(api, shop["card"], 100_000, redeem=51)
    assert response.status_code == 409
    assert response.get_json()["code"] == "insufficient_points"
    assert count_rows(session, Purchase) == 0
    assert api.get(f"/api/v1/cards/{shop['card']['id']}").get_json()["balance"] == 50


def test_points_may_pay_only_the_programs_share_of_a_purchase(
    api: Api, shop: dict[str, Any]
) -> None:
    response = buy(api, shop["card"], 6_000, redeem=31)  # 50 % of 60.00 is 30 points
    assert response.status_code == 409
    assert response.get_json()["code"] == "redeem_limit"
    assert buy(api, shop["card"], 6_000, redeem=30).status_code == 201


def test_reaching_a_tier_raises_the_rate_of_the_next_purchase(
    api: Api, shop: dict[str, Any]
) -> None:
    first = buy(api, shop["card"], 500_000).get_json()
    assert first["earned"] == 10_000 // 100 and first["tier"] == "Gold"
    second = buy(api, shop["card"], 10_000).get_json()
    assert second["earned"] == 5


def test_a_purchase_reads_back_as_the_counter_was_answered(
    api: Api, shop: dict[str, Any]
) -> None:
    location = api.post(f"/api/v1/programs/{shop['program']['id']}/locations",
                        {"name": "Podil"}).get_json()
    for amount, extra in (  # earning; redeeming at a location, with the till's id; to Gold
        (12_345, {}),
        (10_000, {"redeem": 40, "location_id": location["id"], "external_id": "till-7/0042"}),
        (500_000, {}),
    ):
        answer = buy(api, shop["card"], amount, **extra)
        read = api.get(f"/api/v1/pos/purchases/{answer.get_json()['id']}")
        assert answer.status_code == 201 and read.status_code == 200
        assert read.get_json() == answer.get_json()
    assert answer.get_json()["tier"] == "Gold"


def test_the_same_key_and_body_replays_the_first_answer(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    key = uuid.uuid4().hex
    first = buy(api, shop["card"], 10_000, key=key)
    again = buy(api, shop["card"], 10_000, key=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert again.get_json() == first.get_json()
    assert count_rows(session, Purchase) == 1


def test_the_same_key_with_another_body_is_409(api: Api, shop: dict[str, Any]) -> None:
    key = uuid.uuid4().hex
    assert buy(api, shop["card"], 10_000, key=key).status_code == 201
    response = buy(api, shop["card"], 20_000, key=key)
    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_key_reused"


def test_a_write_without_an_idempotency_key_is_refused(api: Api, shop: dict[str, Any],
                                                        session: Session) -> None:
    response = api.post("/api/v1/pos/purchases",
                        {"barcode": shop["card"]["barcode"]["message"], "amount": 100})
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_required"
    assert count_rows(session, Purchase) == 0


def test_lookup_finds_the_card_by_scan_or_typed_number(api: Api, shop: dict[str, Any]) -> None:
    card = shop["card"]
    for barcode in (card["barcode"]["message"], card["number"],
                    f"{card['number'][:4]} {card['number'][4:8]} {card['number'][8:]}"):
        response = api.post("/api/v1/pos/lookup", {"barcode": barcode, "amount": 4_000})
        assert response.status_code == 200
        body = response.get_json()
        assert body["id"] == card["id"] and body["balance"] == 50
        assert body["redeemable_points"] == 20  # half of 40.00
        assert body["offers"] == []


@pytest.mark.parametrize("mangle", [
    lambda n: n[:-1] + str((int(n[-1]) + 1) % 10),  # a typo the check digit catches
    lambda n: n[1:] + n[0],
    lambda n: "9" * 20,
    lambda n: "not a card",
])
def test_a_barcode_that_is_not_ours_is_404(api: Api, shop: dict[str, Any], mangle: Any) -> None:
    response = api.post("/api/v1/pos/lookup", {"barcode": mangle(shop["card"]["number"])})
    assert response.status_code == 404


def test_another_merchants_card_is_404_at_the_counter(
    client: FlaskClient, session: Session, shop: dict[str, Any]
) -> None:
    stranger = new_merchant(client, session, "Other")
    assert stranger.post("/api/v1/pos/lookup",
                         {"barcode": shop["card"]["number"]}).status_code == 404
    assert buy(stranger, shop["card"], 1_000).status_code == 404


def test_a_full_refund_takes_back_what_was_earned_and_returns_what_was_redeemed(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    purchase = buy(api, shop["card"], 100_000, redeem=50).get_json()  # earns 2% of 950.00
    assert purchase["earned"] == 19 and purchase["balance"] == 19
    refund = api.post(f"/api/v1/pos/purchases/{purchase['id']}/refund", {}, headers=_key())
    assert refund.status_code == 201
    body = refund.get_json()
    assert body["points_reversed"] == 19 and body["points_returned"] == 50
    assert body["balance"] == 50
    again = api.post(f"/api/v1/pos/purchases/{purchase['id']}/refund", {}, headers=_key())
    assert again.status_code == 409
    assert ledger_sum(session, shop["card"]["id"]) == 50


def test_partial_refunds_reverse_in_proportion_and_add_up_exactly(
    api: Api, shop: dict[str, Any]
) -> None:
    purchase = buy(api, shop["card"], 99_900).get_json()  # 2 % of 999.00 = 19 points
    path = f"/api/v1/pos/purchases/{purchase['id']}/refund"
    reversed_total = 0
    for amount in (33_300, 33_300, 33_300):
        body = api.post(path, {"amount": amount}, headers=_key()).get_json()
        reversed_total += body["points_reversed"]
    assert reversed_total == 19
    assert body["balance"] == 50
    over = api.post(path, {"amount": 1}, headers=_key())
    assert over.status_code == 409 and over.get_json()["code"] == "refund_exceeds_purchase"


def test_a_refund_never_takes_the_balance_below_zero(api: Api, shop: dict[str, Any]) -> None:
    earned = buy(api, shop["card"], 100_000).get_json()  # +20 → 70
    buy(api, shop["card"], 200_000, redeem=70)  # spends everything, earns 2 % of 1 930.00
    body = api.post(f"/api/v1/pos/purchases/{earned['id']}/refund", {},
                    headers=_key()).get_json()
    assert body["balance"] >= 0
    assert body["points_reversed"] + body["points_forgone"] == 20


def test_managers_adjust_with_a_reason_and_cashiers_may_not(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    path = f"/api/v1/cards/{shop['card']['id']}/adjustments"
    response = api.post(path, {"points": -20, "reason": "duplicate welcome"}, headers=_key())
    assert response.status_code == 201 and response.get_json()["balance"] == 30
    too_much = api.post(path, {"points": -31, "reason": "oops"}, headers=_key())
    assert too_much.status_code == 409
    assert api.post(path, {"points": 5}, headers=_key()).status_code == 422
    merchant_id = session.get(Program, shop["program"]["id"]).merchant_id  # type: ignore[union-attr]
    cashier = Api(api.client, create_api_key(session, merchant_id=merchant_id, role="cashier"))
    assert cashier.post(path, {"points": 5, "reason": "x"}, headers=_key()).status_code == 403


def test_a_blocked_card_is_refused_at_the_counter_and_its_pass_is_voided(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    card_id = shop["card"]["id"]
    assert api.post(f"/api/v1/cards/{card_id}/block", {"reason": "fraud"}).status_code == 200
    response = buy(api, shop["card"], 10_000)
    assert response.status_code == 409 and response.get_json()["code"] == "card_blocked"
    lookup = api.post("/api/v1/pos/lookup", {"barcode": shop["card"]["number"]}).get_json()
    assert lookup["status"] == "blocked" and lookup["redeemable_points"] == 0
    assert api.post(f"/api/v1/cards/{card_id}/unblock").status_code == 200
    assert buy(api, shop["card"], 10_000).status_code == 201
    assert count_rows(session, AuditRecord) >= 3


def test_every_ledger_change_bumps_the_pass_and_queues_a_push(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    before = session.get(Card, shop["card"]["id"])
    assert before is not None
    version = before.pass_version
    queued = count_rows(session, OutboxMessage)  # the program's creation, the enrolment
    session.rollback()
    buy(api, shop["card"], 10_000)
    card = session.get(Card, shop["card"]["id"])
    assert card is not None and card.pass_version == version + 1
    session.rollback()
    assert count_rows(session, OutboxMessage) == queued + 1


def test_velocity_limits_refuse_with_429_and_leave_an_alert(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    api.patch(f"/api/v1/programs/{shop['program']['id']}",
              {"limits": {"purchases_per_card_per_hour": 2}})
    assert buy(api, shop["card"], 1_000).status_code == 201
    assert buy(api, shop["card"], 1_000).status_code == 201
    response = buy(api, shop["card"], 1_000)
    assert response.status_code == 429
    assert response.get_json()["code"] == "velocity_limit"
    assert count_rows(session, Purchase) == 2 and count_rows(session, Alert) == 1
    alerts = api.get("/api/v1/alerts").get_json()["alerts"]
    assert alerts[0]["kind"] == "velocity_limit" and alerts[0]["card_id"] == shop["card"]["id"]


def test_a_cashier_key_bound_to_a_location_records_it(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    location = api.post(f"/api/v1/programs/{shop['program']['id']}/locations",
                        {"name": "Podil"}).get_json()
    merchant_id = session.get(Location, location["id"]).merchant_id  # type: ignore[union-attr]
    cashier = Api(api.client, create_api_key(session, merchant_id=merchant_id, role="cashier",
                                             location_id=location["id"]))
    assert buy(cashier, shop["card"], 1_000).get_json()["location_id"] == location["id"]
    assert buy(cashier, shop["card"], 1_000, location_id=location["id"] + 1).status_code == 403


def test_entries_come_newest_first_in_pages(api: Api, shop: dict[str, Any]) -> None:
    for _ in range(3):
        buy(api, shop["card"], 10_000)
    path = f"/api/v1/cards/{shop['card']['id']}/entries"
    first = api.get(f"{path}?limit=2").get_json()
    assert [e["kind"] for e in first["entries"]] == ["earn", "earn"]
    rest = api.get(f"{path}?limit=2&before={first['next']}").get_json()
    assert [e["kind"] for e in rest["entries"]] == ["earn", "welcome"]
    assert rest["next"] is None
    assert first["entries"][0]["id"] > first["entries"][1]["id"] > rest["entries"][0]["id"]
    assert api.get(f"{path}?limit=1001").status_code == 422
