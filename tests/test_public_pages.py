"""The customer's join form and card page, through HTTP."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from tests.conftest import count_rows
from tests.wallet_helpers import pass_field, pass_json


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_join_page_speaks_the_customers_language(
    client: FlaskClient, program: dict[str, Any]
) -> None:
    path = f"/join/{program['slug']}"
    ukrainian = client.get(path, headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    russian = client.get(path, headers={"Accept-Language": "ru-RU"})
    english = client.get(f"{path}?lang=en", headers={"Accept-Language": "ru-RU"})
    german = client.get(path, headers={"Accept-Language": "de-DE"})
    assert "Отримати картку" in ukrainian.text
    assert "Получить карту" in russian.text
    assert "Get my card" in english.text
    assert "Отримати картку" in german.text  # the program's first locale
    assert client.get("/join/no-such-program").status_code == 404


def test_joining_creates_the_card_and_shows_the_wallet_link(
    client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    path = f"/join/{program['slug']}"
    token = _csrf(client.get(path).text)
    response = client.post(path, data={"csrf": token, "name": "Марія", "phone": "+380671234567",
                                       "consent": "yes"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    number = session.query(Card).one().number
    grouped = f"{number[:4]} {number[4:8]} {number[8:]}"  # as the number is read aloud
    assert f'id="number">{grouped}<' in page.text
    session.rollback()
    link = re.search(r'id="add-to-apple-wallet" href="([^"]+)"', page.text)
    assert link is not None
    package = client.get(link.group(1).removeprefix("https://cards.example.test"))
    assert package.mimetype == "application/vnd.apple.pkpass"
    assert pass_field(pass_json(package.data), "member")["value"] == "Марія"
    customer = session.query(Customer).one()
    assert customer.marketing_consent is True and customer.phone == "+380671234567"


def test_a_form_without_email_or_phone_is_shown_again_with_the_error(
    client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    path = f"/join/{program['slug']}?lang=en"
    token = _csrf(client.get(path).text)
    response = client.post(path, data={"csrf": token, "name": "Nobody"})
    assert response.status_code == 422
    assert "Please check the form" in response.text
    assert 'value="Nobody"' in response.text
    assert count_rows(session, Card) == 0


def test_a_form_without_the_csrf_token_is_refused(
    client: FlaskClient, program: dict[str, Any], session: Session
) -> None:
    response = client.post(f"/join/{program['slug']}?lang=uk",
                           data={"name": "Eve", "email": "eve@example.com"})
    assert response.status_code == 400
    assert "Сесія завершилася; надішліть форму ще раз." in response.text  # in their language
    assert count_rows(session, Card) == 0


def test_a_forged_card_link_is_404(client: FlaskClient, card: dict[str, Any]) -> None:
    token = card["card_url"].rsplit("/", 1)[1]
    serial, _, signature = token.partition(".")
    assert client.get(f"/c/{token}").status_code == 200
    assert client.get(f"/c/{serial}.{'A' * len(signature)}").status_code == 404
    assert client.get(f"/c/{serial}").status_code == 404
    assert client.get(f"/c/{token}/pass.pkpass").status_code == 200
