"""The merchant API for programs, locations and enrolment: shapes, roles, isolation, and
bad input refused with a problem that names the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from app.merchants.models import Program
from app.merchants.service import create_api_key
from tests.conftest import Api, count_rows, new_merchant


def test_creating_a_program_answers_201_with_its_id_slug_and_join_url(api: Api) -> None:
    response = api.post("/api/v1/programs", {"name": "Кав'ярня «Зерно»", "earn_percent": 2.5})
    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["slug"] == "kav-iarnia-zerno" or body["slug"].startswith("kav")
    assert body["join_url"] == f"https://cards.example.test/join/{body['slug']}"
    assert body["earn_percent"] == 2.5
    assert body["point_value"] == 100 and body["kind"] == "points"
    assert body["limits"] == {"purchases_per_card_per_hour": None,
                              "purchases_per_card_per_day": None,
                              "points_per_cashier_per_day": None}
    assert api.get(f"/api/v1/programs/{body['id']}").get_json()["slug"] == body["slug"]


def test_a_taken_slug_is_409(api: Api) -> None:
    assert api.post("/api/v1/programs", {"name": "A", "slug": "kava"}).status_code == 201
    response = api.post("/api/v1/programs", {"name": "B", "slug": "kava"})
    assert response.status_code == 409
    assert response.get_json()["code"] == "slug_taken"


def test_programs_without_a_slug_get_distinct_ones(api: Api) -> None:
    first = api.post("/api/v1/programs", {"name": "Coffee"}).get_json()["slug"]
    second = api.post("/api/v1/programs", {"name": "Coffee"}).get_json()["slug"]
    assert first != second


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "X", "earn_percent": True}, "earn_percent"),
    ({"name": "X", "earn_percent": "2"}, "earn_percent"),
    ({"name": "X", "earn_percent": 101}, "earn_percent"),
    ({"name": "X", "point_value": 0}, "point_value"),
    ({"name": "X", "point_value": 1.5}, "point_value"),
    ({"name": "X", "welcome_points": 2**70}, "welcome_points"),
    ({"name": "X", "welcome_points": -1}, "welcome_points"),
    ({"name": "X", "kind": "cashback"}, "kind"),
    ({"name": "X", "kind": "stamps"}, "stamps_required"),
    ({"name": "X", "currency": "uah"}, "currency"),
    ({"name": "X", "colors": {"background": "red"}}, "colors.background"),
    ({"name": "X", "locales": ["de"]}, "locales.0"),
    ({"name": "X", "barcode_format": "ean13"}, "barcode_format"),
    ({"name": "X", "tiers": [{"name": "Gold", "min_spend": "0", "earn_percent": 3}]},
     "tiers.0.min_spend"),
    ({"name": "X", "tiers": [{"name": "A", "min_spend": 5, "earn_percent": 1},
                             {"name": "B", "min_spend": 1, "earn_percent": 2}]}, "(body)"),
    ({"name": "X", "limits": {"purchases_per_card_per_hour": 0}},
     "limits.purchases_per_card_per_hour"),
    ({"name": "X", "surprise": 1}, "surprise"),
])
def test_bad_program_input_is_422_naming_the_field_and_writes_nothing(
    api: Api, session: Session, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/programs", body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid" and problem["status"] == 422
    assert field in [error["field"] for error in problem["errors"]]
    assert count_rows(session, Program) == 0


def test_integers_written_with_a_zero_fraction_are_those_integers(api: Api) -> None:
    response = api.post("/api/v1/programs", {
        "name": "Whole", "point_value": 201.0, "welcome_points": 50.0,
        "tiers": [{"name": "Silver", "min_spend": 0.0, "earn_percent": 1}]})
    assert response.status_code == 201, response.get_json()
    program = response.get_json()
    assert (program["point_value"], program["welcome_points"]) == (201, 50)
    assert program["tiers"][0]["min_spend"] == 0 and isinstance(program["point_value"], int)


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_a_4xx_problem(api: Api, raw: bytes) -> None:
    response = api.client.post("/api/v1/programs", data=raw, content_type="application/json",
                               headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"
    assert {"status", "title", "detail", "code"} <= set(response.get_json())


def test_patching_a_program_changes_only_what_was_sent(api: Api, program: dict[str, Any]) -> None:
    response = api.patch(f"/api/v1/programs/{program['id']}",
                         {"earn_percent": 3, "colors": {"background": "#000000"}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["earn_percent"] == 3
    assert body["colors"]["background"] == "#000000"
    assert body["name"] == program["name"] and body["tiers"] == program["tiers"]
    assert body["design_version"] == program["design_version"] + 1


def test_a_program_slug_cannot_change(api: Api, program: dict[str, Any]) -> None:
    response = api.patch(f"/api/v1/programs/{program['id']}", {"slug": "other"})
    assert response.status_code == 422
    assert api.patch(f"/api/v1/programs/{program['id']}",
                     {"slug": program["slug"]}).status_code == 200


def test_another_merchants_program_and_card_are_404(
    client: FlaskClient, session: Session, program: dict[str, Any], card: dict[str, Any]
) -> None:
    stranger = new_merchant(client, session, "Other Shop")
    assert stranger.get(f"/api/v1/programs/{program['id']}").status_code == 404
    assert stranger.patch(f"/api/v1/programs/{program['id']}", {"name": "Mine"}).status_code \
        == 404
    assert stranger.post(f"/api/v1/programs/{program['id']}/cards",
                         {"name": "Eve", "email": "eve@example.com"}).status_code == 404
    assert stranger.get(f"/api/v1/cards/{card['id']}").status_code == 404
    assert stranger.get("/api/v1/programs").get_json() == {"programs": []}


def test_requests_without_a_valid_key_are_401(client: FlaskClient, program: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer lp_000000000000_" + "x" * 40},
                    {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/programs", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"


def test_roles_limit_what_a_key_may_do(
    api: Api, session: Session, program: dict[str, Any]
) -> None:
    merchant_id = session.get(Program, program["id"]).merchant_id  # type: ignore[union-attr]
    analyst = Api(api.client, create_api_key(session, merchant_id=merchant_id, role="analyst"))
    cashier = Api(api.client, create_api_key(session, merchant_id=merchant_id, role="cashier"))
    assert analyst.get(f"/api/v1/programs/{program['id']}").status_code == 200
    assert analyst.post("/api/v1/programs", {"name": "No"}).status_code == 403
    assert analyst.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "No", "email": "no@example.com"}).status_code == 403
    assert cashier.patch(f"/api/v1/programs/{program['id']}", {"name": "No"}).status_code == 403
    assert cashier.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Yes", "email": "yes@example.com"}).status_code == 201


def test_enrolling_answers_a_card_as_the_contract_shapes_it(
    api: Api, program: dict[str, Any]
) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Іван", "phone": "+380 50 123 45 67", "marketing_consent": True, "locale": "uk"})
    assert response.status_code == 201
    card = response.get_json()
    assert {"id", "number", "serial_number", "status", "balance", "tier", "stamps", "barcode",
            "apple_pass_url", "card_url"} <= set(card)
    assert "google_save_url" not in card  # Google is off without an issuer id
    assert card["status"] == "active" and card["balance"] == 0 and card["stamps"] == 0
    assert len(card["number"]) == 12 and card["number"].isdigit()
    assert card["barcode"]["format"] == "qr"
    assert card["barcode"]["message"].startswith(card["number"])
    assert card["customer"]["phone"] == "+380501234567"
    assert card["customer"]["marketing_consent"] is True
    assert card["apple_pass_url"].startswith("https://cards.example.test/c/")


def test_enrolling_the_same_email_or_phone_again_returns_the_same_card_with_200(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    url = f"/api/v1/programs/{program['id']}/cards"
    first = api.post(url, {"name": "Sam", "email": "Sam@Example.com", "phone": "+380671112233"})
    again_by_email = api.post(url, {"name": "Samuel", "email": "sam@example.com"})
    again_by_phone = api.post(url, {"name": "S", "phone": "+38 067 111 22 33"})
    assert first.status_code == 201
    assert again_by_email.status_code == 200 and again_by_phone.status_code == 200
    assert again_by_email.get_json()["id"] == first.get_json()["id"]
    assert again_by_phone.get_json()["id"] == first.get_json()["id"]
    assert count_rows(session, Card) == 1 and count_rows(session, Customer) == 1


def test_the_same_person_in_another_program_of_the_merchant_gets_a_second_card(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    other = api.post("/api/v1/programs", {"name": "Bakery"}).get_json()
    a = api.post(f"/api/v1/programs/{program['id']}/cards", {"name": "A", "email": "a@x.com"})
    b = api.post(f"/api/v1/programs/{other['id']}/cards", {"name": "A", "email": "a@x.com"})
    assert a.status_code == b.status_code == 201
    assert a.get_json()["number"] != b.get_json()["number"]
    assert count_rows(session, Customer) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "A"}, "email"),  # neither contact: both fields are named (and "phone")
    ({"name": "A", "email": "not-an-email"}, "email"),
    ({"name": "A", "phone": "12"}, "phone"),
    ({"name": "A", "email": "a@x.com", "marketing_consent": "yes"}, "marketing_consent"),
    ({"name": "A", "email": "a@x.com", "locale": "de"}, "locale"),
    ({"name": "", "email": "a@x.com"}, "name"),
    ({"name": "A", "email": "a@x.com", "balance": 1000}, "balance"),
])
def test_bad_enrolment_input_is_422_and_enrols_nobody(
    api: Api, program: dict[str, Any], session: Session, body: dict[str, Any], field: str
) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/cards", body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]
    assert count_rows(session, Card) == 0 and count_rows(session, Customer) == 0


def test_a_location_has_a_join_url_that_names_it(api: Api, program: dict[str, Any]) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/locations", {
        "name": "Podil", "address": "Sahaidachnoho 1, Kyiv",
        "latitude": 50.4650, "longitude": 30.5190})
    assert response.status_code == 201
    location = response.get_json()
    assert location["join_url"] == f"{program['join_url']}?location={location['id']}"
    bad = api.post(f"/api/v1/programs/{program['id']}/locations",
                   {"name": "Nowhere", "latitude": 91, "longitude": 0})
    assert bad.status_code == 422


def test_the_counter_qr_code_is_a_png(api: Api, program: dict[str, Any]) -> None:
    response = api.get(f"/api/v1/programs/{program['id']}/qr.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png" and response.data.startswith(b"\x89PNG")
    assert api.get(f"/api/v1/programs/{program['id']}/qr.png?location=999").status_code == 404


def test_the_openapi_description_lists_the_fixed_endpoints(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/programs", "/api/v1/programs/{id}", "/api/v1/programs/{id}/cards",
            "/api/v1/cards/{id}"} <= set(document["paths"])
    assert "ProgramCreate" in document["components"]["schemas"]
    assert {"/api/v1/pos/lookup", "/api/v1/pos/purchases",
            "/api/v1/pos/purchases/{id}/refund"} <= set(document["paths"])
    validate(document)  # a valid OpenAPI 3.1 document


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = api.client.delete("/api/v1/programs")
    assert wrong.status_code == 405 and "Allow" in wrong.headers


def test_the_owner_issues_role_keys_shown_once_and_revokes_them(
    api: Api, program: dict[str, Any]
) -> None:
    location = api.post(f"/api/v1/programs/{program['id']}/locations",
                        {"name": "Podil"}).get_json()
    response = api.post("/api/v1/api-keys", {"role": "cashier", "name": "Till 1",
                                             "location_id": location["id"]})
    assert response.status_code == 201
    issued = response.get_json()
    cashier = Api(api.client, issued["api_key"])
    assert cashier.get(f"/api/v1/programs/{program['id']}/qr.png").status_code == 200
    listed = api.get("/api/v1/api-keys").get_json()["api_keys"]
    assert all("api_key" not in key for key in listed)
    assert [k["role"] for k in listed] == ["owner", "cashier"]
    assert cashier.get("/api/v1/api-keys").status_code == 403
    assert api.client.delete(f"/api/v1/api-keys/{issued['id']}",
                             headers={"Authorization": f"Bearer {api.key}"}).status_code == 200
    assert cashier.get(f"/api/v1/programs/{program['id']}/qr.png").status_code == 401
    assert api.post("/api/v1/api-keys", {"role": "admin"}).status_code == 422


def test_a_program_budgets_rewards_at_3_percent_of_turnover_until_the_merchant_says_otherwise(
        api: Api, program: dict[str, Any]) -> None:
    assert program["reward_budget_percent"] == 3
    response = api.patch(f"/api/v1/programs/{program['id']}", {"reward_budget_percent": 4.5})
    assert response.status_code == 200 and response.get_json()["reward_budget_percent"] == 4.5
    refused = api.patch(f"/api/v1/programs/{program['id']}", {"reward_budget_percent": -1})
    assert refused.status_code == 422
    assert api.get(f"/api/v1/programs/{program['id']}").get_json()["reward_budget_percent"] == 4.5
