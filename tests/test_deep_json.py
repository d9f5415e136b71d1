"""Deeply nested JSON (60 KB of brackets) is a malformed body, never a RecursionError: on
every endpoint that takes JSON, with or without a valid key, on SQLite and PostgreSQL, and
nothing is written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.web.jsonbody import MAX_NESTING, loads, nesting_depth
from tests.conftest import Api
from tests.hostile import World, assert_problem, build_world, snapshot

DEEP = b"[" * 30_000 + b"]" * 30_000
DEEP_OBJECT = b'{"a":' * 30_000 + b"1" + b"}" * 30_000

# Every operation of the API that takes a JSON body: (method, path, needs Idempotency-Key).
JSON_OPERATIONS = [
    ("POST", "/api/v1/programs", False),
    ("PATCH", "/api/v1/programs/{program}", False),
    ("POST", "/api/v1/programs/{program}/locations", False),
    ("POST", "/api/v1/programs/{program}/cards", False),
    ("POST", "/api/v1/programs/{program}/offers", False),
    ("POST", "/api/v1/api-keys", False),
    ("POST", "/api/v1/pos/lookup", False),
    ("POST", "/api/v1/pos/purchases", True),
    ("POST", "/api/v1/pos/purchases/{purchase}/refund", True),
    ("POST", "/api/v1/cards/{card}/adjustments", True),
    ("POST", "/api/v1/cards/{card}/block", False),
    ("POST", "/api/v1/cards/{card}/unblock", False),
    ("POST", "/api/v1/cards/{card}/link", False),
    ("PUT", "/api/v1/programs/{program}/automations", False),
    ("POST", "/api/v1/webhooks", False),
]
POS_WRITES = [operation for operation in JSON_OPERATIONS if "/pos/" in operation[1]]
MADE_UP_KEY = "lp_0123456789ab_" + "x" * 43


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _send(client: FlaskClient, world: World, method: str, path: str, key: str,
          body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "deep-1"}
    return client.open(world.path(path), method=method, data=body,
                       content_type="application/json", headers=headers)


def test_the_list_covers_every_operation_the_description_gives_a_json_body(
        client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    with_bodies = {
        (method.upper(), path) for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "application/json" in
        operation.get("requestBody", {}).get("content", {})}
    listed = {(method, path.replace("{program}", "{id}").replace("{card}", "{id}")
               .replace("{purchase}", "{id}")) for method, path, _ in JSON_OPERATIONS}
    assert with_bodies == listed


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize(("method", "path", "keyed"), JSON_OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in JSON_OPERATIONS])
def test_a_deeply_nested_body_is_400_malformed_body_and_changes_nothing(
        client: FlaskClient, api: Api, world: World, session: Session, method: str,
        path: str, keyed: bool, body: bytes) -> None:
    before = snapshot(session)
    response = _send(client, world, method, path, api.key, body)
    assert_problem(response, 400, "malformed_body")
    assert snapshot(session) == before


@pytest.mark.parametrize(("method", "path", "keyed"), POS_WRITES,
                         ids=[f"{m} {p}" for m, p, _ in POS_WRITES])
def test_a_deep_body_with_a_made_up_key_is_401_and_changes_nothing(
        client: FlaskClient, world: World, session: Session, method: str, path: str,
        keyed: bool) -> None:
    before = snapshot(session)
    response = _send(client, world, method, path, MADE_UP_KEY, DEEP)
    assert_problem(response, 401, "invalid_api_key")
    assert snapshot(session) == before


def test_a_deep_device_log_is_400_and_stores_nothing(
        client: FlaskClient, session: Session) -> None:
    before = snapshot(session)
    response = client.post("/passkit/v1/log", data=DEEP, content_type="application/json")
    assert_problem(response, 400, "malformed_body")
    assert snapshot(session) == before


def _registration(app: Flask, world: World) -> str:
    pass_type = app.extensions["loyalpass"].wallet.pass_type_identifier
    return (f"/passkit/v1/devices/a1b2c3d4e5f6/registrations/{pass_type}/"
            f"{world.card['serial_number']}")


def test_a_deep_registration_is_401_without_the_pass_token_and_400_with_it(
        app: Flask, client: FlaskClient, world: World, session: Session) -> None:
    from app.cards.models import Card

    before = snapshot(session)
    path = _registration(app, world)
    anonymous = client.post(path, data=DEEP, content_type="application/json")
    assert_problem(anonymous, 401)
    card = session.get(Card, world.card["id"])
    assert card is not None
    token = card.authentication_token
    session.rollback()
    owned = client.post(path, data=DEEP, content_type="application/json",
                        headers={"Authorization": f"ApplePass {token}"})
    assert_problem(owned, 400, "malformed_body")
    assert snapshot(session) == before


def test_nesting_up_to_the_bound_is_parsed_and_one_level_more_is_refused() -> None:
    assert loads("[" * MAX_NESTING + "]" * MAX_NESTING) is not None
    with pytest.raises(ValueError, match="nested deeper"):
        loads("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    with pytest.raises(ValueError, match="nested deeper"):
        loads(b"[" * 100_000)  # unclosed: as deep as a parser would go


@pytest.mark.parametrize(("text", "depth"), [
    ("", 0), ("1", 0), ('"[[[["', 0), ('"\\"[[["', 0), ('"\\\\"[[', 2), ("[]", 1),
    ('{"a": [1, {"b": "]]]"}]}', 3), ("]]]", 0), ("[}", 1), ('["unterminated [[[', 1),
])
def test_the_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_the_depth_agrees_with_the_parser_on_valid_json() -> None:
    value: Any = {"a": [1, {"b": [[], {"c": "x]["}]}], "d": {}}
    assert nesting_depth(json.dumps(value)) == 5
