"""The customer's pages in English, Russian and Ukrainian: the language is chosen from
the program's locales and the browser's, switched with the page's links, and remembered
for the customer when they switch it on their card's page."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from app.outbox.models import OutboxMessage
from tests.conftest import Api


def _card_path(card: dict[str, Any]) -> str:
    return "/c/" + card["card_url"].rsplit("/", 1)[1]


def _give_points(api: Api, card: dict[str, Any], points: int) -> None:
    response = api.post(f"/api/v1/cards/{card['id']}/adjustments",
                        {"points": points, "reason": "test"},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code in (200, 201), response.get_json()


def _customer_and_outbox(session: Session, card_id: int) -> tuple[str, int, int]:
    session.rollback()
    try:
        customer = session.scalars(select(Customer).join(Card).where(Card.id == card_id)).one()
        pushes = len(session.scalars(select(OutboxMessage.id)
                                     .where(OutboxMessage.card_id == card_id)).all())
        version = session.scalars(select(Card.pass_version).where(Card.id == card_id)).one()
        return customer.locale, pushes, version
    finally:
        session.rollback()


def test_the_card_page_counts_points_as_each_language_does(
    client: FlaskClient, api: Api, card: dict[str, Any]
) -> None:
    _give_points(api, card, 21)
    path = _card_path(card)
    assert 'id="balance">21 балл<' in client.get(f"{path}?lang=ru").text
    assert 'id="balance">21 бал<' in client.get(f"{path}?lang=uk").text
    assert 'id="balance">21 points<' in client.get(f"{path}?lang=en").text
    _give_points(api, card, 1)
    assert 'id="balance">22 балла<' in client.get(f"{path}?lang=ru").text
    assert 'id="balance">22 бали<' in client.get(f"{path}?lang=uk").text


def test_the_pages_say_every_sentence_in_the_chosen_language(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any]
) -> None:
    join_ru = client.get(f"/join/{program['slug']}?lang=ru").text
    assert "<title>Карта Kava Club</title>" in join_ru
    assert "Карта лояльности в кошельке телефона." in join_ru
    assert 'aria-label="Язык"' in join_ru and '<html lang="ru">' in join_ru
    card_uk = client.get(f"{_card_path(card)}?lang=uk").text
    assert "Ваша картка Kava Club" in card_uk and "Номер картки" in card_uk
    assert "Add to" not in card_uk.replace("Додати в Apple Wallet", "")


def test_a_sentence_keeps_the_names_it_is_given_escaped(
    client: FlaskClient, api: Api
) -> None:
    response = api.post("/api/v1/programs", {
        "name": "<b>Зерно</b>", "currency": "UAH", "earn_percent": 2, "locales": ["uk"]})
    assert response.status_code == 201, response.get_json()
    page = client.get(f"/join/{response.get_json()['slug']}").text
    assert "Картка &lt;b&gt;Зерно&lt;/b&gt;" in page and "<b>Зерно" not in page


def test_switching_the_language_on_the_card_page_is_remembered_for_the_customer(
    client: FlaskClient, card: dict[str, Any], session: Session
) -> None:
    path = _card_path(card)
    locale, pushes, version = _customer_and_outbox(session, card["id"])
    assert locale == "uk"  # the program's first locale, as enrolled
    assert "Ваша карта Kava Club" in client.get(f"{path}?lang=ru").text
    assert _customer_and_outbox(session, card["id"]) == ("ru", pushes + 1, version + 1)
    # Later, from a browser that prefers Ukrainian, the card still speaks Russian.
    later = client.get(path, headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    assert "Ваша карта Kava Club" in later.text and '<html lang="ru">' in later.text


def test_the_same_language_again_or_one_the_program_lacks_changes_nothing(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = api.post("/api/v1/programs", {
        "name": "Kava Two", "currency": "UAH", "earn_percent": 2, "locales": ["uk", "en"]})
    assert program.status_code == 201
    card = api.post(f"/api/v1/programs/{program.get_json()['id']}/cards",
                    {"name": "Ira", "email": "ira@example.com"}).get_json()
    path = _card_path(card)
    before = _customer_and_outbox(session, card["id"])
    assert "Ваша картка Kava Two" in client.get(f"{path}?lang=uk").text  # already uk
    assert "Ваша картка Kava Two" in client.get(f"{path}?lang=ru").text  # not offered
    assert client.get(f"{path}?lang=%00%FF").status_code == 200
    assert _customer_and_outbox(session, card["id"]) == before
    assert client.get(f"{path}?lang=en").status_code == 200
    assert _customer_and_outbox(session, card["id"])[0] == "en"


def test_a_forged_card_link_with_a_language_changes_nothing(
    client: FlaskClient, card: dict[str, Any], session: Session
) -> None:
    serial = card["card_url"].rsplit("/", 1)[1].partition(".")[0]
    before = _customer_and_outbox(session, card["id"])
    assert client.get(f"/c/{serial}.{'A' * 43}?lang=ru").status_code == 404
    assert _customer_and_outbox(session, card["id"]) == before
