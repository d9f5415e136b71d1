"""Control characters and lone surrogates in text are refused alike on SQLite and PostgreSQL
(which cannot store NUL in text and no UTF-8 can hold a surrogate): 422 naming the field in
every JSON body and on the join form, 400 on Apple's log, and nothing is written. From the
URL or the headers they are a 404 or a 400, never a 500."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.cards.models import Card
from tests.conftest import Api
from tests.hostile import World, assert_problem, build_world, snapshot

# (label, value): each is refused in every text field.
HOSTILE = [("NUL", "Olena\x00Kovalenko"), ("ESC", "\x1b[31mred"), ("DEL", "a\x7fb"),
           ("C1", "a\x85b"), ("lone surrogate", "a\ud800b"), ("low surrogate", "\udfff")]
LINE_BREAKS = [("newline", "line one\nline two"), ("tab", "a\tb"), ("CR", "a\rb")]


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _valid_program() -> dict[str, Any]:
    return {"name": "Zerno", "reward_text": "A free coffee", "terms": "Be kind",
            "support_phone": "+380441234567", "support_email": "help@zerno.example",
            "website": "https://zerno.example/",
            "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 1}]}


# (method, path, a valid body, the text fields to break, keyed, multi-line fields)
OPERATIONS: list[tuple[str, str, Any, list[str], bool]] = [
    ("POST", "/api/v1/programs", lambda w: _valid_program(),
     ["name", "reward_text", "terms", "support_phone", "support_email", "website",
      "tiers.0.name"], False),
    ("POST", "/api/v1/programs", lambda w: {
        "name": {"en": "Zerno"}, "reward_text": {"en": "Coffee"}, "terms": {"en": "Kind"},
        "tiers": [{"name": {"en": "Silver"}, "min_spend": 0, "earn_percent": 1}]},
     ["name.en", "reward_text.en", "terms.en", "tiers.0.name.en"], False),
    ("PATCH", "/api/v1/programs/{program}", lambda w: {"name": "Zerno 2", "terms": "Kind",
                                                       "reward_text": "Tea"},
     ["name", "terms", "reward_text"], False),
    ("POST", "/api/v1/programs/{program}/locations",
     lambda w: {"name": "Podil", "address": "Kyiv"}, ["name", "address"], False),
    ("POST", "/api/v1/programs/{program}/cards",
     lambda w: {"name": "Taras", "email": "taras@example.com", "phone": "+380441234568"},
     ["name", "email", "phone"], False),
    ("POST", "/api/v1/api-keys", lambda w: {"role": "cashier", "name": "Till 2"}, ["name"],
     False),
    ("POST", "/api/v1/pos/lookup", lambda w: {"barcode": w.card["barcode"]["message"]},
     ["barcode"], False),
    ("POST", "/api/v1/pos/purchases",
     lambda w: {"barcode": w.card["barcode"]["message"], "amount": 500,
                "external_id": "R-1"}, ["barcode", "external_id"], True),
    ("POST", "/api/v1/pos/purchases/{purchase}/refund",
     lambda w: {"amount": 100, "reason": "spilt"}, ["reason"], True),
    ("POST", "/api/v1/cards/{card}/adjustments", lambda w: {"points": 5, "reason": "gift"},
     ["reason"], True),
    ("POST", "/api/v1/cards/{card}/block", lambda w: {"reason": "lost"}, ["reason"], False),
    ("POST", "/api/v1/programs/{program}/offers",
     lambda w: {"title": "Tea", "body": "All week", "audience": {"tiers": ["Silver"]}},
     ["title", "body", "audience.tiers.0"], False),
    ("POST", "/api/v1/programs/{program}/offers",
     lambda w: {"title": {"en": "Tea"}, "body": {"en": "All week"}}, ["title.en", "body.en"],
     False),
]
MULTI_LINE = {"terms", "address", "body", "terms.en", "body.en"}
FIELD_CASES = [
    pytest.param(method, path, valid, field, keyed, id=f"{method} {path} {field}")
    for method, path, valid, fields, keyed in OPERATIONS for field in fields
]


def _with(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return body


def _send(api: Api, world: World, method: str, path: str, body: Any, keyed: bool) -> Any:
    headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
    return api.client.open(world.path(path), method=method, json=body,
                           headers={"Authorization": f"Bearer {api.key}", **headers})


@pytest.mark.parametrize(("method", "path", "valid", "field", "keyed"), [
    pytest.param(method, path, valid, None, keyed, id=f"{method} {path}")
    for method, path, valid, _, keyed in OPERATIONS])
def test_each_valid_body_the_bad_ones_are_made_from_is_accepted(
        api: Api, world: World, method: str, path: str, valid: Any, field: None,
        keyed: bool) -> None:
    response = _send(api, world, method, path, valid(world), keyed)
    assert response.status_code in (200, 201), response.get_json()


@pytest.mark.parametrize(("method", "path", "valid", "field", "keyed"), FIELD_CASES)
def test_a_control_character_or_lone_surrogate_in_a_text_field_is_422_naming_it(
        api: Api, world: World, session: Session, method: str, path: str, valid: Any,
        field: str, keyed: bool) -> None:
    values = HOSTILE if field in MULTI_LINE else HOSTILE + LINE_BREAKS
    before = snapshot(session)
    for label, value in values:
        response = _send(api, world, method, path, _with(valid(world), field, value), keyed)
        problem = assert_problem(response, 422)
        assert field in [error["field"] for error in problem["errors"]], (label, problem)
    assert snapshot(session) == before


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/programs", {"name": "Zerno", "terms": "One\n\tTwo\r\nThree"}, "terms"),
    ("/api/v1/programs/{program}/locations",
     {"name": "Podil", "address": "Kyiv\nVolodymyrska 1"}, "address"),
    ("/api/v1/programs/{program}/offers", {"title": "Tea", "body": "Mon\nTue"}, "body"),
])
def test_multi_line_fields_keep_tabs_and_line_breaks(
        api: Api, world: World, path: str, body: dict[str, Any], field: str) -> None:
    response = api.post(world.path(path), body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()[field] == body[field]


@pytest.mark.parametrize("name", ["Olena\x00", "\x1b[2J", "a\x85b"])
def test_the_join_form_with_a_control_character_is_422_saying_so_at_the_field(
        client: FlaskClient, world: World, session: Session, name: str) -> None:
    path = world.path("/join/{slug}")
    page = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    before = snapshot(session)
    response = client.post(path, data={"name": name, "email": "new@example.com",
                                       "csrf": csrf.group(1)})
    assert response.status_code == 422
    assert ('id="name-error">Remove the special characters from this field.<'
            in response.get_data(as_text=True))
    assert snapshot(session) == before


def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_500(
        client: FlaskClient, world: World, session: Session) -> None:
    path = world.path("/join/{slug}")
    client.get(path)
    before = snapshot(session)
    response = client.post(path, data={"name": "Olena", "email": "new@example.com",
                                       "csrf": "кава"})
    assert response.status_code == 400
    assert snapshot(session) == before


@pytest.mark.parametrize("message", ["boom\x00", "\ud800", "\x1b[0m"])
def test_a_device_log_with_a_control_character_is_400_and_stores_nothing(
        client: FlaskClient, session: Session, message: str) -> None:
    before = snapshot(session)
    response = client.post("/passkit/v1/log", json={"logs": ["fine", message]})
    assert_problem(response, 400, "malformed_body")
    assert snapshot(session) == before


def test_a_device_log_keeps_tabs_and_line_breaks(client: FlaskClient) -> None:
    assert client.post("/passkit/v1/log", json={"logs": ["a\tb\nc"]}).status_code == 200


# --- the URL and the headers -----------------------------------------------------------------

# Percent-encoded NUL, a control character, and a UTF-8-encoded lone surrogate (which the
# server decodes as replacement characters, never as a surrogate).
URL_VALUES = [pytest.param(value, id=value[:12]) for value in
              ("%00", "a%00b", "%1B", "%ED%A0%80", "%C0%80", "%FF", "9" * 5000)]
QUERY_NAMES = ["location", "passesUpdatedSince", "limit", "before", "lang", "size"]


def _paths(app: Flask, world: World, value: str) -> list[tuple[str, str]]:
    """Every route with each variable in turn replaced by ``value``, the others real."""
    real = {"program_id": world.program["id"], "card_id": world.card["id"],
            "purchase_id": world.purchase["id"], "offer_id": world.offer["id"],
            "key_id": 1, "slug": world.program["slug"],
            "token": world.card["card_url"].rsplit("/", 1)[1],
            "device": "a1b2c3d4", "table": "days", "pass_type": app.extensions["loyalpass"]
            .wallet.pass_type_identifier, "serial": world.card["serial_number"]}
    paths = []
    for rule in app.url_map.iter_rules():
        names = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        for name in names or [None]:
            path = rule.rule
            for variable in names:
                replacement = value if variable == name else str(real[variable])
                path = re.sub(rf"<(?:\w+:)?{variable}>", replacement, path)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                paths.append((method, path))
    return paths


@pytest.mark.parametrize("value", URL_VALUES)
def test_hostile_text_in_any_path_segment_or_query_parameter_is_never_a_500(
        app: Flask, api: Api, world: World, session: Session, value: str) -> None:
    before = snapshot(session)
    query = "&".join(f"{name}={value}" for name in QUERY_NAMES)
    for method, path in _paths(app, world, value):
        response = api.client.open(
            f"{path}?{query}", method=method, data=b"{}", content_type="application/json",
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "x"})
        assert response.status_code < 500, (method, path, response.get_data()[:300])
    # Blocking, unblocking and their kin took real ids: only refused calls should remain.
    after = snapshot(session)
    for table in ("customers", "purchases", "ledger_entries", "programs", "devices"):
        assert after[table] == before[table], table


@pytest.mark.parametrize("header", [
    ("Authorization", "Bearer lp_\x00"), ("Authorization", "ApplePass \x00\x1b"),
    ("Authorization", "Bearer \u00ff\u00fe"), ("Idempotency-Key", "\x00"),
    ("If-Modified-Since", "\x00"), ("Accept-Language", "\x00;q=\x00"),
])
def test_hostile_text_in_a_header_is_never_a_500(
        app: Flask, api: Api, world: World, header: tuple[str, str]) -> None:
    for method, path in _paths(app, world, "x"):
        if "<" in path:
            continue
        response = api.client.open(path, method=method, data=b"{}",
                                   content_type="application/json",
                                   headers={"Authorization": f"Bearer {api.key}",
                                            header[0]: header[1]})
        assert response.status_code < 500, (method, path, response.get_data()[:300])


def test_a_program_slug_with_a_nul_is_404_on_the_join_page_and_the_logo(
        client: FlaskClient, world: World) -> None:
    for path in ("/join/{slug}%00", "/p/{slug}%00/logo.png"):
        assert_problem(client.get(world.path(path)), 404)


def test_a_card_link_with_a_nul_or_a_foreign_character_is_404(
        client: FlaskClient, world: World, session: Session) -> None:
    token = world.card["card_url"].rsplit("/", 1)[1]
    for path in (f"/c/{token}%00", f"/c/%00{token}", f"/c/{token}%C3%A9",
                 f"/c/{token}/pass.pkpass%00"):
        assert client.get(path).status_code == 404
    assert session.get(Card, world.card["id"]) is not None
