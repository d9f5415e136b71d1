"""Refunds by location: a cashier key bound to a location refunds only purchases made
there; owner, manager and unbound cashier keys refund any of the merchant's purchases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.ledger.models import AuditRecord, LedgerEntry, Refund
from app.merchants.models import Location
from app.merchants.service import create_api_key
from app.outbox.models import OutboxMessage
from tests.conftest import Api, count_rows
from tests.test_pos_api import buy


@pytest.fixture
def chain(api: Api, session: Session) -> dict[str, Any]:
    """A program with two shops, a cashier key at each and a card with 50 welcome points."""
    program = api.post("/api/v1/programs", {"name": "Kava", "earn_percent": 10,
                                            "welcome_points": 50}).get_json()
    shops = [api.post(f"/api/v1/programs/{program['id']}/locations", {"name": name}).get_json()
             for name in ("Podil", "Obolon")]
    merchant_id = session.get(Location, shops[0]["id"]).merchant_id  # type: ignore[union-attr]
    cashiers = [Api(api.client, create_api_key(session, merchant_id=merchant_id,
                                               role="cashier", location_id=shop["id"]))
                for shop in shops]
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    return {"merchant_id": merchant_id, "podil": cashiers[0], "obolon": cashiers[1],
            "card": card}


def _refund(api: Api, purchase_id: int, key: str | None = None, **body: Any) -> Any:
    return api.post(f"/api/v1/pos/purchases/{purchase_id}/refund", body,
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def _state(session: Session, api: Api, card_id: int) -> tuple[Any, ...]:
    balance = api.get(f"/api/v1/cards/{card_id}").get_json()["balance"]
    return (balance, count_rows(session, Refund), count_rows(session, LedgerEntry),
            count_rows(session, OutboxMessage), count_rows(session, AuditRecord))


def test_a_cashier_refunds_a_purchase_made_at_their_own_location(
    chain: dict[str, Any],
) -> None:
    purchase = buy(chain["podil"], chain["card"], 10_000).get_json()  # 10 % of 100.00: 10

    refund = _refund(chain["podil"], purchase["id"])

    assert refund.status_code == 201
    assert refund.get_json()["points_reversed"] == 10 and refund.get_json()["balance"] == 50


def test_a_cashier_may_not_refund_another_locations_purchase_and_nothing_changes(
    api: Api, chain: dict[str, Any], session: Session
) -> None:
    at_obolon = buy(chain["obolon"], chain["card"], 10_000).get_json()
    nowhere = buy(api, chain["card"], 5_000).get_json()  # the owner's key names no location
    before = _state(session, api, chain["card"]["id"])

    key = uuid.uuid4().hex
    refused = [_refund(chain["podil"], at_obolon["id"], key),
               _refund(chain["podil"], nowhere["id"], amount=1_000)]

    for response in refused:
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "location_forbidden"
        assert "own location" in response.get_json()["detail"]
    assert _state(session, api, chain["card"]["id"]) == before
    # The refused request stored no idempotency key: the key is still free for the refund.
    allowed = _refund(chain["obolon"], at_obolon["id"], key)
    assert allowed.status_code == 201 and "Idempotency-Replayed" not in allowed.headers


def test_owners_managers_and_unbound_cashiers_refund_purchases_of_any_location(
    api: Api, chain: dict[str, Any], session: Session
) -> None:
    purchase = buy(chain["obolon"], chain["card"], 30_000).get_json()
    manager = Api(api.client, create_api_key(session, merchant_id=chain["merchant_id"],
                                             role="manager"))
    cashier = Api(api.client, create_api_key(session, merchant_id=chain["merchant_id"],
                                             role="cashier"))

    answers = [_refund(caller, purchase["id"], amount=10_000).status_code
               for caller in (api, manager, cashier)]

    assert answers == [201, 201, 201]


def test_the_openapi_description_names_the_refunds_location_rule(client: FlaskClient) -> None:
    operation = client.get("/api/openapi.json").get_json()["paths"][
        "/api/v1/pos/purchases/{id}/refund"]["post"]
    assert "location_forbidden" in operation["responses"]["403"]["description"]
    assert "bound to a location" in operation["description"]
