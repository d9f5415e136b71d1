"""Ids past the database's integer columns (2^31 - 1) are unknown ids, on SQLite and
PostgreSQL alike: 404 in any path of any method, 404 for the counter QR code's location,
and an unknown location (left out) on the join page; never an overflow 500 or a 405."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import Api
from tests.hostile import World, assert_problem, build_world, snapshot

TOO_LARGE = [pytest.param(value, id=label) for label, value in {
    "2**31": "2147483648", "2**63": "9223372036854775808", "30 digits": "1" * 30,
    "5000 digits": "9" * 5000}.items()]
NOT_IDS = ["0", "-1", "abc", "1.5", "\u0663", "%00", ""]  # U+0663: an Arabic-Indic three


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _id_routes(app: Flask) -> list[tuple[str, str]]:
    return [(method, rule.rule) for rule in app.url_map.iter_rules() if "<int:" in rule.rule
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]


@pytest.mark.parametrize("value", [*TOO_LARGE, "\u0663"])
def test_an_id_past_the_integer_columns_is_404_on_every_route_and_method(
        app: Flask, api: Api, world: World, session: Session, value: str) -> None:
    before = snapshot(session)
    routes = _id_routes(app)
    assert len(routes) >= 20
    for method, rule in routes:
        path = re.sub(r"<int:\w+>", value, rule)
        response = api.client.open(path, method=method, json={},
                                   headers={"Authorization": f"Bearer {api.key}",
                                            "Idempotency-Key": "big-id"})
        assert_problem(response, 404, "not_found")
    assert snapshot(session) == before


@pytest.mark.parametrize("value", TOO_LARGE + NOT_IDS)
def test_the_qr_code_of_a_location_that_cannot_exist_is_404(
        api: Api, world: World, value: str) -> None:
    response = api.get(world.path("/api/v1/programs/{program}/qr.png") + f"?location={value}")
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("name", ["limit", "before"])
@pytest.mark.parametrize("value", TOO_LARGE + NOT_IDS)
def test_a_page_parameter_that_is_not_a_sane_number_is_422_naming_it(
        api: Api, world: World, name: str, value: str) -> None:
    response = api.get(world.path("/api/v1/cards/{card}/entries") + f"?{name}={value}")
    problem = assert_problem(response, 422, "invalid")
    assert [error["field"] for error in problem["errors"]] == [name]


def test_the_qr_code_of_a_real_location_is_a_png(api: Api, world: World) -> None:
    response = api.get(world.path("/api/v1/programs/{program}/qr.png?location={location}"))
    assert response.status_code == 200
    assert response.mimetype == "image/png"


@pytest.mark.parametrize("value", TOO_LARGE + NOT_IDS)
def test_the_join_page_leaves_out_a_location_that_cannot_exist(
        client: FlaskClient, world: World, session: Session, value: str) -> None:
    before = snapshot(session)
    response = client.get(world.path("/join/{slug}") + f"?location={value}")
    assert response.status_code == 200
    assert 'name="location"' not in response.get_data(as_text=True)
    assert snapshot(session) == before


def test_the_join_page_names_a_real_location(client: FlaskClient, world: World) -> None:
    response = client.get(world.path("/join/{slug}?location={location}"))
    assert response.status_code == 200
    expected = f'name="location" value="{world.location["id"]}"'
    assert expected in response.get_data(as_text=True)


def test_joining_with_a_location_that_cannot_exist_enrols_without_one(
        client: FlaskClient, world: World, session: Session) -> None:
    from app.cards.models import Card

    path = world.path("/join/{slug}") + "?location=2147483648"
    page = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    response = client.post(path, data={"name": "Ivan", "email": "ivan@example.com",
                                       "csrf": csrf.group(1)})
    assert response.status_code == 303
    session.rollback()
    card: Any = session.query(Card).order_by(Card.id.desc()).first()
    assert card is not None and card.location_id is None
    session.rollback()
