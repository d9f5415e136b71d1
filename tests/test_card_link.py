"""POST /api/v1/cards/{id}/link: the merchant gives a card a new customer link; the old
link and the pass download under it stop working at once. With reset_pass_token the
pass's web-service token is replaced too, so a copy of the pass that leaked can no longer
fetch updates or register devices."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from app.devices.models import Device, Registration
from tests.conftest import Api, count_rows, new_merchant
from tests.push_helpers import install, register
from tests.wallet_helpers import pass_json

SECRET = "test-secret-key-0123456789abcdef"  # the conftest config's secret key
TOKEN = "ab" * 32


def path(url: str) -> str:
    return urlsplit(url).path


def pass_at(client: FlaskClient, installed: dict[str, Any], token: str) -> int:
    response = client.get(f"/passkit/v1/passes/{installed['type']}/{installed['serial']}",
                          headers={"Authorization": f"ApplePass {token}"})
    status: int = response.status_code
    return status


def link_as_issued_before_versions(serial_number: str) -> str:
    """A card link as Loyalpass made them before links could be reissued."""
    key = hmac.new(SECRET.encode(), b"loyalpass.card-link", "sha256").digest()
    mac = hmac.new(key, serial_number.encode(), "sha256").digest()[:18]
    return f"/c/{serial_number}.{base64.urlsafe_b64encode(mac).decode()}"


def test_links_issued_before_reissuing_existed_keep_working_until_the_first_reissue(
    client: FlaskClient, api: Api, card: dict[str, Any],
) -> None:
    old = link_as_issued_before_versions(card["serial_number"])
    assert path(card["card_url"]) == old
    assert client.get(old).status_code == 200
    api.post(f"/api/v1/cards/{card['id']}/link")
    assert client.get(old).status_code == 404


def test_a_new_link_retires_the_old_one_and_leaves_the_pass_token_alone(
    client: FlaskClient, api: Api, card: dict[str, Any], session: Session,
) -> None:
    installed = install(client, card)
    assert register(client, installed, "device-a", TOKEN) == 201
    response = api.post(f"/api/v1/cards/{card['id']}/link")
    assert response.status_code == 200
    new = response.get_json()["card_url"]
    assert new != card["card_url"] and new.startswith("https://cards.example.test/c/")
    assert client.get(path(card["card_url"])).status_code == 404
    assert client.get(path(card["apple_pass_url"])).status_code == 404
    page = client.get(path(new))
    number = card["number"]
    assert page.status_code == 200 and f"{number[:4]} {number[4:8]} {number[8:]}" in page.text
    shown = api.get(f"/api/v1/cards/{card['id']}").get_json()
    assert shown["card_url"] == new and shown["apple_pass_url"] == f"{new}/pass.pkpass"
    body = pass_json(client.get(path(new) + "/pass.pkpass").data)
    assert body["authenticationToken"] == installed["token"]
    assert new in json.dumps(body) and card["card_url"] not in json.dumps(body)
    assert pass_at(client, installed, installed["token"]) == 200
    assert count_rows(session, Registration) == 1
    again = api.post(f"/api/v1/cards/{card['id']}/link", {"reset_pass_token": False})
    assert again.get_json()["card_url"] not in (new, card["card_url"])


def test_resetting_the_pass_token_locks_the_old_pass_out_of_the_web_service(
    client: FlaskClient, api: Api, card: dict[str, Any], session: Session,
) -> None:
    installed = install(client, card)
    assert register(client, installed, "device-a", TOKEN) == 201
    response = api.post(f"/api/v1/cards/{card['id']}/link", {"reset_pass_token": True})
    assert response.status_code == 200
    new = response.get_json()["card_url"]
    assert pass_at(client, installed, installed["token"]) == 401
    assert register(client, installed, "device-b", "cd" * 32) == 401
    assert count_rows(session, Registration) == 0 and count_rows(session, Device) == 0
    renewed = install(client, {"apple_pass_url": f"{new}/pass.pkpass"})
    assert renewed["token"] != installed["token"] and renewed["serial"] == installed["serial"]
    assert pass_at(client, renewed, renewed["token"]) == 200
    assert register(client, renewed, "device-a", TOKEN) == 201
    assert client.get(path(card["card_url"])).status_code == 404


def test_another_merchants_card_is_404_and_a_cashier_or_analyst_may_not_reissue(
    client: FlaskClient, api: Api, card: dict[str, Any], session: Session,
) -> None:
    other = new_merchant(client, session, "Other Bar")
    assert other.post(f"/api/v1/cards/{card['id']}/link").status_code == 404
    for role in ("cashier", "analyst"):
        key = api.post("/api/v1/api-keys", {"role": role, "name": role}).get_json()["api_key"]
        refused = Api(client, key).post(f"/api/v1/cards/{card['id']}/link")
        assert refused.status_code == 403 and refused.get_json()["code"] == "role_forbidden"
    assert client.post(f"/api/v1/cards/{card['id']}/link").status_code == 401
    assert client.get(path(card["card_url"])).status_code == 200


@pytest.mark.parametrize("body", [{"reset_pass_token": "yes"}, {"reset_pass_token": 1},
                                  {"reset": True}, [True]])
def test_a_bad_body_is_422_and_the_link_stays(
    client: FlaskClient, api: Api, card: dict[str, Any], body: Any,
) -> None:
    response = api.post(f"/api/v1/cards/{card['id']}/link", body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert client.get(path(card["card_url"])).status_code == 200
    assert api.get(f"/api/v1/cards/{card['id']}").get_json()["card_url"] == card["card_url"]


def test_a_body_that_is_not_json_is_400_and_the_link_stays(
    client: FlaskClient, api: Api, card: dict[str, Any],
) -> None:
    response = client.post(f"/api/v1/cards/{card['id']}/link", data="{not json",
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 400
    assert client.get(path(card["card_url"])).status_code == 200


def test_the_openapi_description_documents_the_link_and_the_mails_in_deliveries(
    client: FlaskClient,
) -> None:
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    link = document["paths"]["/api/v1/cards/{id}/link"]["post"]
    assert link["requestBody"]["required"] is False
    schemas = document["components"]["schemas"]
    assert "reset_pass_token" in schemas["CardLinkInput"]["properties"]
    assert schemas["CardLink"]["required"] == ["card_url"]
    assert "mails" in schemas["Deliveries"]["required"]
