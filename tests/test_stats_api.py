"""``GET /api/v1/programs/{id}/stats``: the contract's keys, who may read it, and every bad
query a 422 or 404 problem that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.analytics.segments import SEGMENTS
from app.analytics.stats import program_stats
from app.merchants.models import Program
from app.merchants.service import create_api_key
from tests.conftest import Api, new_merchant
from tests.stats_history import FIRST_DAY, History, generate

CONTRACT_KEYS = {"enrollments", "active_customers_30d", "purchases", "turnover",
                 "average_check", "points_issued", "points_redeemed", "points_expired",
                 "points_outstanding", "liability", "reward_cost_share", "installs",
                 "removals", "tiers", "segments"}
PERIOD = {"from": str(FIRST_DAY + timedelta(days=10)), "to": str(FIRST_DAY + timedelta(days=40))}


@pytest.fixture
def history(session: Session, api: Api, program: dict[str, Any]) -> History:
    return generate(session, api, program, seed=7, cards=6, purchases=40)


def _key(session: Session, history: History, role: str, location_id: int | None = None
         ) -> str:
    secret = create_api_key(session, merchant_id=history.merchant_id, role=role,
                            location_id=location_id)
    session.rollback()
    return secret


def _stats(api: Api, program_id: int, **query: Any) -> Any:
    return api.get(f"/api/v1/programs/{program_id}/stats", query_string=query)


def test_the_owner_reads_every_figure_the_contract_names(api: Api, history: History) -> None:
    response = _stats(api, history.program_id, **PERIOD)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) >= CONTRACT_KEYS
    assert set(body["installs"]) == set(body["removals"]) == {"apple", "google"}
    assert body["segments"] == dict.fromkeys(SEGMENTS, 0)  # every segment named, none computed
    assert body["purchases"] > 0 and body["liability"] == body["points_outstanding"] * 100


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_a_manager_or_analyst_key_reads_the_stats(client: FlaskClient, session: Session,
                                                  history: History, role: str) -> None:
    reader = Api(client, _key(session, history, role))
    assert _stats(reader, history.program_id, **PERIOD).status_code == 200


def test_a_cashier_key_is_refused(client: FlaskClient, session: Session,
                                  history: History) -> None:
    cashier = Api(client, _key(session, history, "cashier"))
    response = _stats(cashier, history.program_id, **PERIOD)
    assert response.status_code == 403
    assert response.get_json()["code"] == "role_forbidden"


def test_another_merchants_program_is_a_404(client: FlaskClient, session: Session,
                                            history: History) -> None:
    stranger = new_merchant(client, session, name="Other Shop")
    response = _stats(stranger, history.program_id, **PERIOD)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("query", [
    {"from": "2026-02-30"}, {"from": "yesterday"}, {"to": "2026-3-1"}, {"to": "20260301"},
    {"from": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "2026-04-01", "to": "2026-03-01"},
    {"from": "2020-01-01", "to": "2026-01-01"}, {"location": "x"}, {"location": "0"},
    {"location": "99999999999"}, {"from": "２０２６-03-01"},
], ids=lambda query: "&".join(f"{k}={v}" for k, v in query.items()))
def test_a_bad_period_or_location_is_a_422_naming_it(api: Api, program: dict[str, Any],
                                                     query: dict[str, str]) -> None:
    response = _stats(api, program["id"], **query)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "invalid"
    assert {error["field"] for error in body["errors"]} <= {"from", "to", "location"}


def test_a_location_of_another_program_is_a_404(api: Api, history: History) -> None:
    other = api.post("/api/v1/programs", {"name": "Tea Club"}).get_json()
    elsewhere = api.post(f"/api/v1/programs/{other['id']}/locations",
                         {"name": "Lviv"}).get_json()
    response = _stats(api, history.program_id, location=elsewhere["id"], **PERIOD)
    assert response.status_code == 404


def test_a_key_bound_to_a_location_reads_that_locations_figures_only(
        client: FlaskClient, session: Session, history: History) -> None:
    here, there = history.locations
    bound = Api(client, _key(session, history, "manager", location_id=here))
    own = _stats(bound, history.program_id, **PERIOD).get_json()
    program = session.get(Program, history.program_id)
    assert program is not None
    direct = program_stats(session, program=program, start=FIRST_DAY + timedelta(days=10),
                           end=FIRST_DAY + timedelta(days=40), location_id=here)
    everywhere = program_stats(session, program=program, start=direct.start, end=direct.end,
                               location_id=None)
    assert (own["purchases"], own["turnover"]) == (direct.purchases, direct.turnover)
    assert own["purchases"] < everywhere.purchases
    session.rollback()
    assert _stats(bound, history.program_id, location=here, **PERIOD).get_json() == {
        **own, "location": here}
    refused = _stats(bound, history.program_id, location=there, **PERIOD)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "location_forbidden"
