"""A card remembers where its customer joined: the counter's location and the campaign
tag of the join link (``?src=``), through the join form and through a mailed link that
enrols a returning customer later; a tag or location that is not one is left out and the
customer still joins. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import recovery
from app.cards.models import Card, CardRecoveryLink, Customer
from app.cards.schemas import EnrolmentInput
from app.merchants.models import Program
from tests.conftest import BASE_URL, Api, count_rows, new_merchant


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _join(client: FlaskClient, path: str, **fields: str) -> Any:
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data={"csrf": _csrf(page.text), **fields})


def _cards(session: Session) -> list[tuple[int, int | None, str | None]]:
    """(id, location_id, source) of every card, read in a transaction that ends at once
    (so that the test never holds SQLite's write lock while the app works)."""
    session.rollback()
    try:
        return [(card.id, card.location_id, card.source)
                for card in session.scalars(select(Card).order_by(Card.id))]
    finally:
        session.rollback()


def _location(api: Api, program: dict[str, Any], name: str = "Podil") -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/locations", {"name": name})
    assert response.status_code == 201
    body: dict[str, Any] = response.get_json()
    return body


def test_a_join_through_a_counters_link_with_a_campaign_tag_records_both_on_the_card(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    location = _location(api, program)
    assert location["join_url"] == f"{BASE_URL}/join/{program['slug']}?location={location['id']}"
    path = f"/join/{program['slug']}?location={location['id']}&src=flyer-may"
    page = client.get(path)
    assert 'name="src" value="flyer-may"' in page.text  # carried by the form itself too
    response = _join(client, path, name="Марія", phone="+380671234567")
    assert response.status_code == 303
    [(card_id, location_id, source)] = _cards(session)
    assert (location_id, source) == (location["id"], "flyer-may")
    shown = api.get(f"/api/v1/cards/{card_id}").get_json()
    assert (shown["location_id"], shown["source"]) == (location["id"], "flyer-may")


def test_the_form_alone_carries_the_tag_when_the_address_lost_its_query(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    location = _location(api, program)
    page = client.get(f"/join/{program['slug']}?location={location['id']}&src=window_2")
    response = client.post(f"/join/{program['slug']}", data={
        "csrf": _csrf(page.text), "name": "Ivan", "email": "ivan@example.com",
        "location": str(location["id"]), "src": "window_2"})
    assert response.status_code == 303
    assert [row[1:] for row in _cards(session)] == [(location["id"], "window_2")]


def test_a_bad_tag_or_a_location_of_another_program_is_left_out_and_the_customer_still_joins(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    other = api.post("/api/v1/programs", {"name": "Bakery"}).get_json()
    elsewhere = _location(api, other, "Bakery counter")
    for number, query in enumerate([
        f"?location={elsewhere['id']}&src=Flyer-May",
        "?location=abc&src=" + "x" * 33,
        "?src=a%20b",
        "?src=%00",
        "?src=%D1%84%D0%BB%D0%B0%D1%94%D1%80",  # флаєр
    ]):
        path = f"/join/{program['slug']}{query}"
        page = client.get(path)
        assert page.status_code == 200 and 'name="src"' not in page.text
        response = _join(client, path, name="Guest", email=f"guest{number}@example.com")
        assert response.status_code == 303, query
    assert [row[1:] for row in _cards(session)] == [(None, None)] * 5


def test_a_join_without_a_link_tag_records_no_attribution(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    response = _join(client, f"/join/{program['slug']}", name="Olha", email="olha@example.com")
    assert response.status_code == 303
    [(card_id, location_id, source)] = _cards(session)
    assert (location_id, source) == (None, None)
    shown = api.get(f"/api/v1/cards/{card_id}").get_json()
    assert (shown["location_id"], shown["source"]) == (None, None)


def test_a_returning_customer_enrolled_from_a_mailed_link_keeps_the_joins_attribution(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    """Known from another of the merchant's programs, they get a link, not a card; the
    card their link enrols them in records where they joined."""
    bakery = api.post("/api/v1/programs", {"name": "Bakery"}).get_json()
    assert api.post(f"/api/v1/programs/{bakery['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).status_code == 201
    location = _location(api, program)
    kava = session.get(Program, program["id"])
    assert kava is not None
    joined = recovery.join(session, program=kava, location_id=location["id"],
                           source="poster-a5",
                           data=EnrolmentInput(name="Olena", email="olena@example.com"))
    assert joined.reply is recovery.Reply.LINK_MAILED and joined.card is None
    assert count_rows(session, Card) == 1  # only the bakery's
    link = session.scalars(select(CardRecoveryLink)).one()
    assert (link.location_id, link.source) == (location["id"], "poster-a5")
    card = recovery.open_link(session, link_id=link.id)
    assert (card.program_id, card.location_id, card.source) == (
        program["id"], location["id"], "poster-a5")
    assert count_rows(session, Customer) == 1


def test_the_merchants_api_records_where_a_card_was_enrolled_and_an_existing_card_keeps_its_own(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    location = _location(api, program)
    created = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Dmytro", "email": "dmytro@example.com", "location_id": location["id"],
        "source": "till-flyer_2"})
    assert created.status_code == 201
    assert (created.get_json()["location_id"], created.get_json()["source"]) == (
        location["id"], "till-flyer_2")
    assert [row[1:] for row in _cards(session)] == [(location["id"], "till-flyer_2")]
    again = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Dmytro", "email": "dmytro@example.com", "source": "another"})
    assert again.status_code == 200 and again.get_json()["source"] == "till-flyer_2"
    shown = api.get(f"/api/v1/cards/{created.get_json()['id']}").get_json()
    assert (shown["location_id"], shown["source"]) == (location["id"], "till-flyer_2")


def test_the_api_refuses_a_tag_the_join_link_would_drop_and_a_location_not_the_programs(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    other = api.post("/api/v1/programs", {"name": "Bakery"}).get_json()
    elsewhere = _location(api, other, "Bakery counter")
    stranger = new_merchant(client, session, "Other Shop")
    theirs = stranger.post("/api/v1/programs", {"name": "Theirs"}).get_json()
    foreign = _location(stranger, theirs, "Their counter")
    path = f"/api/v1/programs/{program['id']}/cards"
    for extra, code in [
        ({"source": "Flyer-May"}, "invalid"), ({"source": "x" * 33}, "invalid"),
        ({"source": "a b"}, "invalid"), ({"source": ""}, "invalid"),
        ({"source": " flyer"}, "invalid"), ({"source": "флаєр"}, "invalid"),
        ({"location_id": 2**31}, "invalid"), ({"location_id": "1"}, "invalid"),
        ({"location_id": elsewhere["id"]}, "unknown_location"),
        ({"location_id": foreign["id"]}, "unknown_location"),
    ]:
        refused = api.post(path, {"name": "Guest", "email": "guest@example.com", **extra})
        assert refused.status_code == 422, extra
        body = refused.get_json()
        assert body["code"] == code, extra
        assert [error["field"] for error in body["errors"]] == list(extra), extra
    assert count_rows(session, Card) == 0 and count_rows(session, Customer) == 0


def test_a_key_bound_to_a_counter_enrols_there_and_may_name_no_other(
    api: Api, client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    from app.merchants.service import create_api_key

    podil, obolon = _location(api, program, "Podil"), _location(api, program, "Obolon")
    bound = Api(client, create_api_key(session, merchant_id=session.get(
        Program, program["id"]).merchant_id, role="cashier", location_id=podil["id"]))
    path = f"/api/v1/programs/{program['id']}/cards"
    refused = bound.post(path, {"name": "Guest", "email": "guest@example.com",
                                "location_id": obolon["id"]})
    assert refused.status_code == 403 and refused.get_json()["code"] == "location_forbidden"
    assert count_rows(session, Card) == 0 and count_rows(session, Customer) == 0
    unnamed = bound.post(path, {"name": "Guest", "email": "guest@example.com"})
    named = bound.post(path, {"name": "Iryna", "email": "iryna@example.com",
                              "location_id": podil["id"]})
    assert (unnamed.status_code, named.status_code) == (201, 201)
    assert [row[1] for row in _cards(session)] == [podil["id"], podil["id"]]
