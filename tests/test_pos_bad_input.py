"""Bad input at the counter: amounts and points must be integers within sane bounds, unknown
fields and wrong types are 422 naming the field, malformed JSON is 400, a barcode that is not
ours and another merchant's card or purchase are 404, and none of these writes anything.
Every case runs through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.cards.numbers import luhn_check_digit
from app.ledger.models import AuditRecord, IdempotencyRecord, LedgerEntry, Purchase, Refund
from app.merchants.models import ApiKey, Program
from app.outbox.models import OutboxMessage
from tests.conftest import Api, count_rows, new_merchant

WRITTEN_TABLES = (Purchase, Refund, LedgerEntry, IdempotencyRecord, OutboxMessage, AuditRecord)


@dataclass(frozen=True)
class World:
    """Our card and purchase, and another merchant's card, purchase and location."""

    card: dict[str, Any]
    purchase: dict[str, Any]
    other_card: dict[str, Any]
    other_purchase: dict[str, Any]
    other_location: dict[str, Any]

    @property
    def barcode(self) -> str:
        return str(self.card["barcode"]["message"])

    def path(self, template: str) -> str:
        return template.format(card=self.card["id"], purchase=self.purchase["id"],
                               other_card=self.other_card["id"],
                               other_purchase=self.other_purchase["id"])


def _shop(api: Api) -> dict[str, Any]:
    """A program with a card that has made one purchase of 100.00."""
    program = api.post("/api/v1/programs", {
        "name": "Kava", "currency": "UAH", "earn_percent": 2, "welcome_points": 50,
        "max_redeem_percent": 50,
    }).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    purchase = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": 10_000},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert purchase.status_code == 201, purchase.get_json()
    return {"card": card, "purchase": purchase.get_json(), "program": program}


@pytest.fixture
def world(api: Api, client: FlaskClient, session: Session) -> World:
    ours = _shop(api)
    stranger = new_merchant(client, session, "Other")
    theirs = _shop(stranger)
    location = stranger.post(f"/api/v1/programs/{theirs['program']['id']}/locations",
                             {"name": "Podil"})
    assert location.status_code == 201, location.get_json()
    return World(card=ours["card"], purchase=ours["purchase"], other_card=theirs["card"],
                 other_purchase=theirs["purchase"], other_location=location.get_json())


@dataclass(frozen=True)
class Endpoint:
    path: str
    keyed: bool
    valid: Callable[[World], dict[str, Any]]


ENDPOINTS = {
    "purchase": Endpoint("/api/v1/pos/purchases", True,
                         lambda w: {"barcode": w.barcode, "amount": 1_000}),
    "refund": Endpoint("/api/v1/pos/purchases/{purchase}/refund", True,
                       lambda w: {"amount": 100}),
    "adjustment": Endpoint("/api/v1/cards/{card}/adjustments", True,
                           lambda w: {"points": 5, "reason": "goodwill"}),
    "lookup": Endpoint("/api/v1/pos/lookup", False,
                       lambda w: {"barcode": w.barcode, "amount": 1_000}),
    "block": Endpoint("/api/v1/cards/{card}/block", False, lambda w: {"reason": "lost"}),
}
WRITES = ("purchase", "refund", "adjustment", "block")


@dataclass(frozen=True)
class Footprint:
    rows: dict[str, int]
    cards: list[tuple[Any, ...]]


def footprint(session: Session) -> Footprint:
    rows = {model.__tablename__: count_rows(session, model) for model in WRITTEN_TABLES}
    session.rollback()
    cards = [tuple(row) for row in session.execute(
        select(Card.id, Card.balance, Card.stamps, Card.rewards, Card.status,
               Card.pass_version).order_by(Card.id))]
    session.rollback()
    return Footprint(rows, cards)


@dataclass
class Call:
    """One request: a JSON body, or raw bytes with a content type."""

    endpoint: str
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    path: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, api: Api, world: World) -> Any:
        endpoint = ENDPOINTS[self.endpoint]
        headers = dict(self.headers)
        if endpoint.keyed:
            headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        path = world.path(self.path or endpoint.path)
        if self.raw is not None:
            return api.client.post(path, data=self.raw, content_type=self.content_type,
                                   headers={"Authorization": f"Bearer {api.key}", **headers})
        return api.post(path, self.body, headers=headers)


def assert_refused(response: Any, status: int, field_name: str | None,
                   before: Footprint, after: Footprint) -> None:
    problem = response.get_json()
    assert response.status_code == status, problem
    assert response.mimetype == "application/problem+json"
    assert problem["status"] == status
    if field_name is not None:
        assert field_name in [error["field"] for error in problem["errors"]], problem
    assert after == before


def refused(api: Api, world: World, session: Session, call: Call, status: int,
            field_name: str | None = None) -> None:
    before = footprint(session)
    response = call.send(api, world)
    assert_refused(response, status, field_name, before, footprint(session))


# --- the valid requests every bad one below is made from ------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_the_valid_request_each_bad_one_is_made_from_succeeds(
    api: Api, world: World, session: Session, name: str
) -> None:
    before = footprint(session)
    endpoint = ENDPOINTS[name]
    response = Call(name, endpoint.valid(world)).send(api, world)
    assert response.status_code in (200, 201), response.get_json()
    # The footprint sees a write: the refusals below that leave it unchanged mean something.
    assert (footprint(session) != before) == (name in WRITES)


# --- numbers -------------------------------------------------------------------------------

BAD_INTEGERS: dict[str, Any] = {
    "true": True, "false": False, "fraction": 1.5, "text": "100",
    "negative": -1, "zero": 0, "2**63": 2**63, "2**64": 2**64, "10**30": 10**30,
    "minus_2**63": -(2**63), "NaN": float("nan"), "Infinity": float("inf"), "null": None,
    "list": [], "object": {},
}
# Each numeric field of each body, with the values from BAD_INTEGERS that are valid there.
NUMERIC_FIELDS: list[tuple[str, str, tuple[str, ...]]] = [
    ("purchase", "amount", ()),
    ("purchase", "redeem_points", ("zero",)),
    ("purchase", "redeem_rewards", ("zero",)),
    ("purchase", "location_id", ("null",)),
    ("refund", "amount", ("null",)),
    ("adjustment", "points", ("negative",)),
    ("lookup", "amount", ("null",)),
]
NUMBER_CASES = [
    pytest.param(endpoint, name, value, id=f"{endpoint}.{name}={label}")
    for endpoint, name, valid in NUMERIC_FIELDS
    for label, value in BAD_INTEGERS.items() if label not in valid
]


@pytest.mark.parametrize(("endpoint", "name", "value"), NUMBER_CASES)
def test_a_number_that_is_not_a_sane_integer_is_422_naming_the_field_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, name: str, value: Any
) -> None:
    body = {**ENDPOINTS[endpoint].valid(world), name: value}
    refused(api, world, session, Call(endpoint, body), 422, name)


@pytest.mark.parametrize(("endpoint", "name"), [
    ("purchase", "amount"), ("purchase", "redeem_points"), ("refund", "amount"),
    ("adjustment", "points"), ("lookup", "amount"),
])
def test_a_whole_number_written_with_a_zero_fraction_is_that_integer(
    api: Api, world: World, session: Session, endpoint: str, name: str
) -> None:
    """JSON has one kind of number, and JSON Schema's integer admits 1000.0 (the API's
    description says integer): it is accepted as 1000, the same as 1000 would be."""
    body = ENDPOINTS[endpoint].valid(world)
    value = body.get(name, 2)
    response = Call(endpoint, {**body, name: float(value)}).send(api, world)
    assert response.status_code in (200, 201), response.get_json()
    answer = response.get_json()
    if endpoint == "purchase" and name == "amount":
        assert answer["amount"] == value and isinstance(answer["amount"], int)


# --- strings -------------------------------------------------------------------------------

BAD_BARCODES: dict[str, Any] = {
    "null": None, "number": 123456789012, "true": True, "list": [], "empty": "",
    "blank": "   ", "too_long": "1" * 65,
}
BAD_REASONS: dict[str, Any] = {"null": None, "number": 1, "list": ["lost"],
                               "too_long": "x" * 501}
STRING_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("purchase", "barcode", BAD_BARCODES),
    ("lookup", "barcode", BAD_BARCODES),
    ("purchase", "external_id", {"empty": "", "number": 5, "too_long": "x" * 129}),
    ("adjustment", "reason", {**BAD_REASONS, "empty": "", "blank": "  "}),
    ("refund", "reason", BAD_REASONS),
    ("block", "reason", BAD_REASONS),
]
STRING_CASES = [
    pytest.param(endpoint, name, value, id=f"{endpoint}.{name}={label}")
    for endpoint, name, values in STRING_FIELDS for label, value in values.items()
]


@pytest.mark.parametrize(("endpoint", "name", "value"), STRING_CASES)
def test_a_wrong_or_oversized_text_field_is_422_naming_the_field_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, name: str, value: Any
) -> None:
    body = {**ENDPOINTS[endpoint].valid(world), name: value}
    refused(api, world, session, Call(endpoint, body), 422, name)


# --- the shape of the body ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_field_is_422_naming_it_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str
) -> None:
    body = {**ENDPOINTS[endpoint].valid(world), "bonus_points": 1_000}
    refused(api, world, session, Call(endpoint, body), 422, "bonus_points")


@pytest.mark.parametrize(("endpoint", "name"), [
    ("purchase", "barcode"), ("purchase", "amount"), ("adjustment", "points"),
    ("adjustment", "reason"), ("lookup", "barcode"),
])
def test_a_missing_required_field_is_422_naming_it_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, name: str
) -> None:
    body = ENDPOINTS[endpoint].valid(world)
    del body[name]
    refused(api, world, session, Call(endpoint, body), 422, name)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("body", [[1_000], "1000", 1_000, True], ids=["list", "text", "number",
                                                                      "true"])
def test_a_body_that_is_not_an_object_is_422_naming_the_body_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, body: Any
) -> None:
    refused(api, world, session, Call(endpoint, body), 422, "(body)")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("raw", "content_type"), [
    (b'{"amount": ', "application/json"),
    (b'{"amount": 1000,}', "application/json"),
    (b"\xff\xfe{}", "application/json"),
    (b"null", "application/json"),
    (b'{"amount": 1000}', "text/plain"),
], ids=["truncated", "trailing_comma", "not_utf8", "null", "not_declared_json"])
def test_a_body_that_is_not_a_json_object_is_400_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, raw: bytes, content_type: str
) -> None:
    call = Call(endpoint, raw=raw, content_type=content_type)
    refused(api, world, session, call, 400)


@pytest.mark.parametrize("endpoint", ["purchase", "adjustment", "lookup"])
def test_an_empty_body_where_fields_are_required_is_400_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str
) -> None:
    refused(api, world, session, Call(endpoint, raw=b""), 400)


@pytest.mark.parametrize("endpoint", ["purchase", "refund", "adjustment"])
@pytest.mark.parametrize("key", ["k" * 256, "tab\there"], ids=["oversized", "unprintable"])
def test_a_malformed_idempotency_key_is_422_naming_the_header_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, key: str
) -> None:
    call = Call(endpoint, ENDPOINTS[endpoint].valid(world), headers={"Idempotency-Key": key})
    refused(api, world, session, call, 422, "Idempotency-Key")


# --- what is not ours ----------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "path"), [
    ("refund", "/api/v1/pos/purchases/{other_purchase}/refund"),
    ("adjustment", "/api/v1/cards/{other_card}/adjustments"),
    ("block", "/api/v1/cards/{other_card}/block"),
    ("block", "/api/v1/cards/{other_card}/unblock"),
])
def test_another_merchants_card_or_purchase_is_404_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, path: str
) -> None:
    call = Call(endpoint, ENDPOINTS[endpoint].valid(world), path=path)
    refused(api, world, session, call, 404)


@pytest.mark.parametrize("endpoint", ["purchase", "lookup"])
@pytest.mark.parametrize("barcode", ["theirs", "typo", "forged_mac", "unknown_number"])
def test_a_barcode_that_is_not_ours_is_404_and_writes_nothing(
    api: Api, world: World, session: Session, endpoint: str, barcode: str
) -> None:
    number = world.card["number"]
    scanned = {
        "theirs": world.other_card["barcode"]["message"],
        "typo": number[:-1] + str((int(number[-1]) + 1) % 10),
        "forged_mac": number + "00000000" if not world.barcode.endswith("00000000")
        else number + "11111111",
        "unknown_number": "4" * 11 + luhn_check_digit("4" * 11),  # well formed, no such card
    }[barcode]
    body = {**ENDPOINTS[endpoint].valid(world), "barcode": scanned}
    refused(api, world, session, Call(endpoint, body), 404)


def test_another_merchants_location_is_422_naming_location_id_and_writes_nothing(
    api: Api, world: World, session: Session
) -> None:
    body = {**ENDPOINTS["purchase"].valid(world), "location_id": world.other_location["id"]}
    refused(api, world, session, Call("purchase", body), 422, "location_id")


@pytest.mark.parametrize("location_id", [2**31, 2**62], ids=["2**31", "2**62"])
def test_a_location_id_past_the_databases_ids_is_422_not_a_server_error(
    api: Api, world: World, session: Session, location_id: int
) -> None:
    body = {**ENDPOINTS["purchase"].valid(world), "location_id": location_id}
    refused(api, world, session, Call("purchase", body), 422, "location_id")


@pytest.mark.parametrize(("endpoint", "path"), [
    ("refund", "/api/v1/pos/purchases/{id}/refund"),
    ("adjustment", "/api/v1/cards/{id}/adjustments"),
    ("block", "/api/v1/cards/{id}/block"),
])
@pytest.mark.parametrize("identifier", [2**31, 2**63, 10**30], ids=["2**31", "2**63", "10**30"])
def test_an_id_in_the_path_past_the_databases_ids_is_404_not_a_server_error(
    api: Api, world: World, session: Session, endpoint: str, path: str, identifier: int
) -> None:
    call = Call(endpoint, ENDPOINTS[endpoint].valid(world),
                path=path.replace("{id}", str(identifier)))
    refused(api, world, session, call, 404)


def test_paging_entries_from_past_the_databases_ids_is_422_not_a_server_error(
    api: Api, world: World
) -> None:
    response = api.get(f"/api/v1/cards/{world.card['id']}/entries?before={2**31}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [error["field"] for error in response.get_json()["errors"]] == ["before"]


@pytest.mark.parametrize("name", ["point_value", "welcome_points"])
def test_a_program_value_past_its_column_is_422_naming_the_field_not_a_server_error(
    api: Api, session: Session, name: str
) -> None:
    programs = count_rows(session, Program)
    response = api.post("/api/v1/programs", {"name": "Huge", name: 2**31})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert name in [error["field"] for error in response.get_json()["errors"]]
    assert count_rows(session, Program) == programs


def test_a_cashier_key_for_a_location_past_the_databases_ids_is_422_not_a_server_error(
    api: Api, session: Session
) -> None:
    keys = count_rows(session, ApiKey)
    response = api.post("/api/v1/api-keys", {"role": "cashier", "location_id": 2**31})
    assert response.status_code == 422, response.get_json()
    assert [error["field"] for error in response.get_json()["errors"]] == ["location_id"]
    assert count_rows(session, ApiKey) == keys
