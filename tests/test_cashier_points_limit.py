"""The program's `points_per_cashier_per_day` limit, end to end through the POS API on
SQLite and PostgreSQL: a cashier key that has handed out the day's points is refused
(429 `velocity_limit`, as the API description says) and nothing changes; another cashier,
or the same one a day later, is not refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.ledger.models import Alert, IdempotencyRecord, LedgerEntry, Purchase
from tests.conftest import Api, count_rows

DAILY_POINTS = 100  # the program's limit: 100 points a cashier key a day


@pytest.fixture
def shop(api: Api) -> dict[str, Any]:
    """10 % back with a point worth 1.00 (1 000.00 UAH earns 100 points), the limit set,
    a card, and two cashiers' keys."""
    program = api.post("/api/v1/programs", {
        "name": "Kava", "currency": "UAH", "earn_percent": 10, "point_value": 100,
        "limits": {"points_per_cashier_per_day": DAILY_POINTS}}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    return {"program": program, "card": card,
            "first": _cashier(api, "Till 1"), "second": _cashier(api, "Till 2")}


def _cashier(owner: Api, name: str) -> Api:
    issued = owner.post("/api/v1/api-keys", {"role": "cashier", "name": name})
    assert issued.status_code == 201, issued.get_json()
    return Api(owner.client, issued.get_json()["api_key"])


def _buy(cashier: Api, card: dict[str, Any], amount: int) -> Any:
    return cashier.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount},
                        headers={"Idempotency-Key": uuid.uuid4().hex})


def _balance(api: Api, card: dict[str, Any]) -> int:
    balance: int = api.get(f"/api/v1/cards/{card['id']}").get_json()["balance"]
    return balance


def _counts(session: Session) -> dict[str, int]:
    return {model.__name__: count_rows(session, model)
            for model in (Purchase, LedgerEntry, IdempotencyRecord)}


def _key_id(owner: Api, name: str) -> int:
    keys = owner.get("/api/v1/api-keys").get_json()["api_keys"]
    key_id: int = next(key["id"] for key in keys if key["name"] == name)
    return key_id


def test_a_cashier_who_handed_out_the_days_points_is_refused_and_nothing_changed(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    card = shop["card"]
    first = _buy(shop["first"], card, 100_000)  # 100 points: the whole day's allowance
    assert first.status_code == 201 and first.get_json()["earned"] == DAILY_POINTS
    before, balance = _counts(session), _balance(api, card)

    refused = _buy(shop["first"], card, 1_000)  # one point more
    assert refused.status_code == 429
    body = refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert body["code"] == "velocity_limit" and body["limit"] == "points_per_cashier_per_day"
    described = api.client.get("/api/openapi.json").get_json()["paths"][
        "/api/v1/pos/purchases"]["post"]["responses"]["429"]["description"]
    assert "velocity_limit" in described
    assert _counts(session) == before and _balance(api, card) == balance
    alerts = api.get("/api/v1/alerts").get_json()["alerts"]
    assert [alert["kind"] for alert in alerts] == ["velocity_limit"]
    assert count_rows(session, Alert) == 1


def test_another_cashier_is_not_refused_when_one_has_handed_out_the_days_points(
    api: Api, shop: dict[str, Any]
) -> None:
    card = shop["card"]
    assert _buy(shop["first"], card, 100_000).status_code == 201
    assert _buy(shop["first"], card, 1_000).status_code == 429
    other = _buy(shop["second"], card, 100_000)
    assert other.status_code == 201 and other.get_json()["earned"] == DAILY_POINTS


def test_the_same_cashier_is_not_refused_a_day_later(
    api: Api, shop: dict[str, Any], session: Session
) -> None:
    card = shop["card"]
    assert _buy(shop["first"], card, 100_000).status_code == 201
    assert _buy(shop["first"], card, 1_000).status_code == 429
    key_id = _key_id(api, "Till 1")
    # A day and a minute pass: the key's points were handed out yesterday.
    session.execute(update(LedgerEntry).where(LedgerEntry.api_key_id == key_id)
                    .values(created_at=utcnow() - timedelta(days=1, minutes=1)))
    session.commit()
    later = _buy(shop["first"], card, 100_000)
    assert later.status_code == 201 and later.get_json()["earned"] == DAILY_POINTS
