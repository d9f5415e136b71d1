"""The cashier screen over HTTP: finding a card as a cashier would (its number with or
without spaces, a phone, an old number), recording a purchase with the amount typed as on
the receipt, the same form sent twice recording once, the ledger's refusals said in the
page's language with nothing recorded, refunds, and where a member may record."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import LegacyCardNumber
from app.ledger.models import Alert, LedgerEntry, Purchase, Refund
from app.web.dashboard.cashier_forms import minor_units
from tests.conftest import Api
from tests.dashboard_helpers import (
    csrf_of,
    location,
    member,
    merchant_with_owner,
    signed_in,
)


@dataclass(frozen=True)
class Counter:
    api: Api
    program: dict[str, Any]
    card: dict[str, Any]
    merchant_id: int
    podil: int
    obolon: int


@pytest.fixture
def counter(app: Flask, session: Session) -> Counter:
    owner = merchant_with_owner(session, "Kava Bar")
    api = Api(app.test_client(), owner.api_key)
    program = api.post("/api/v1/programs", {
        "name": "Kava Club", "currency": "UAH", "earn_percent": 10, "welcome_points": 50,
        "point_value": 100}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Olena Koval", "phone": "+380671234567"}).get_json()
    podil = location(session, owner.merchant_id, program["id"], "Podil")
    obolon = location(session, owner.merchant_id, program["id"], "Obolon")
    member(session, owner.merchant_id, "cashier", "cashier@kavabar.example", (podil,))
    member(session, owner.merchant_id, "cashier", "both@kavabar.example", (podil, obolon))
    member(session, owner.merchant_id, "manager", "manager@kavabar.example")
    return Counter(api, program, card, owner.merchant_id, podil, obolon)


def _cashier(app: Flask, email: str = "cashier@kavabar.example") -> FlaskClient:
    return signed_in(app, email)


def _card_page(client: FlaskClient, card_id: int, lang: str | None = None) -> str:
    page = client.get(f"/dashboard/cashier/cards/{card_id}",
                      query_string={"lang": lang} if lang else None)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _form_key(html: str) -> str:
    found = re.search(r'name="key" type="hidden" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def _sell(client: FlaskClient, card_id: int, amount: str, key: str | None = None,
          **fields: Any) -> Any:
    html = _card_page(client, card_id)
    return client.post(f"/dashboard/cashier/cards/{card_id}/purchases", data={
        "csrf": csrf_of(client, "/dashboard/cashier"), "key": key or _form_key(html),
        "amount": amount, **fields})


def _ledger(session: Session) -> tuple[int, int, int]:
    session.rollback()
    try:
        return (session.scalar(select(func.count()).select_from(Purchase)) or 0,
                session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
                session.scalar(select(func.count()).select_from(Refund)) or 0)
    finally:
        session.rollback()


def _only(session: Session, model: type[Any]) -> Any:
    """The table's one row, read in a transaction that ends at once (SQLite's write lock
    stays free for the app)."""
    session.rollback()
    try:
        row = session.scalars(select(model)).one()
        session.expunge(row)
        return row
    finally:
        session.rollback()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("typed", ["{number}", "{spaced}"])
def test_a_card_number_typed_with_or_without_spaces_opens_the_card(
        app: Flask, counter: Counter, typed: str) -> None:
    number = counter.card["number"]
    spaced = " ".join(number[start:start + 4] for start in range(0, len(number), 4))
    found = _cashier(app).get("/dashboard/cashier",
                              query_string={"q": typed.format(number=number, spaced=spaced)})
    assert found.status_code == 302
    assert found.headers["Location"] == f"/dashboard/cashier/cards/{counter.card['id']}"


def test_the_scanned_barcode_and_an_old_imported_number_find_the_card(
        app: Flask, session: Session, counter: Counter) -> None:
    session.add(LegacyCardNumber(merchant_id=counter.merchant_id,
                                 program_id=counter.program["id"],
                                 card_id=counter.card["id"], number="PLASTIC0042"))
    session.commit()
    client = _cashier(app)
    for text in (counter.card["barcode"]["message"], "PLASTIC-0042"):
        found = client.get("/dashboard/cashier", query_string={"q": text})
        assert found.headers["Location"] == f"/dashboard/cashier/cards/{counter.card['id']}"


def test_a_phone_shared_by_several_cards_lists_them_to_pick_from(
        app: Flask, counter: Counter) -> None:
    counter.api.post(f"/api/v1/programs/{counter.program['id']}/cards", {
        "name": "Taras Koval", "phone": "+380501234567"})
    page = _cashier(app, "manager@kavabar.example").get(
        "/dashboard/cashier", query_string={"q": "1234567"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Olena Koval" in html and "Taras Koval" in html
    assert "2 cards found" in _text(html)


def test_nothing_found_says_so_in_the_pages_language(app: Flask, counter: Counter) -> None:
    page = _cashier(app).get("/dashboard/cashier", query_string={"q": "999", "lang": "uk"})
    assert page.status_code == 404
    assert "Жодна картка" in page.get_data(as_text=True)


def test_a_purchase_typed_with_a_comma_earns_points_and_shows_the_new_balance(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    answer = _sell(client, counter.card["id"], "123,50")
    text = _text(answer.get_data(as_text=True))
    assert answer.status_code == 201, text
    assert "Purchase recorded" in text
    assert "+12" in text and "62 points" in text  # 10 % of 123.50 is 12 points; 50 + 12
    purchase = _only(session, Purchase)
    assert (purchase.amount, purchase.earned_points, purchase.location_id) == (
        12350, 12, counter.podil)
    staff = set(session.scalars(select(LedgerEntry.staff_id).where(
        LedgerEntry.purchase_id == purchase.id)))
    session.rollback()
    assert staff != {None} and len(staff) == 1


def test_the_same_form_sent_twice_records_one_purchase_and_shows_the_same_receipt(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    key = _form_key(_card_page(client, counter.card["id"]))
    first = _sell(client, counter.card["id"], "80", key=key)
    again = _sell(client, counter.card["id"], "80", key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert "Recorded already" in again.get_data(as_text=True)
    assert "58 points" in _text(again.get_data(as_text=True))  # 50 + 8, not 50 + 16
    assert _ledger(session)[0] == 1


def test_a_redemption_lowers_what_is_paid_and_the_balance(
        app: Flask, session: Session, counter: Counter) -> None:
    answer = _sell(_cashier(app), counter.card["id"], "100.00", redeem_points="30")
    assert answer.status_code == 201
    purchase = _only(session, Purchase)
    # 30 points pay 30.00; 70.00 paid earns 7 points: 50 - 30 + 7.
    assert (purchase.redeemed_points, purchase.amount_paid, purchase.earned_points) == (
        30, 7000, 7)
    assert "27 points" in _text(answer.get_data(as_text=True))


def test_redeeming_more_than_the_balance_is_refused_in_russian_and_nothing_changes(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    _card_page(client, counter.card["id"], "ru")
    before = _ledger(session)
    answer = _sell(client, counter.card["id"], "100", redeem_points="51")
    assert answer.status_code == 409
    assert "На карте меньше баллов" in answer.get_data(as_text=True)
    assert _ledger(session) == before


def test_a_blocked_card_and_a_velocity_limit_are_refused_and_nothing_is_recorded(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    counter.api.patch(f"/api/v1/programs/{counter.program['id']}",
                      {"limits": {"purchases_per_card_per_hour": 1}})
    assert _sell(client, counter.card["id"], "10").status_code == 201
    before = _ledger(session)
    limited = _sell(client, counter.card["id"], "10")
    assert limited.status_code == 429
    assert "limits allow no more purchases" in limited.get_data(as_text=True)
    assert _only(session, Alert).kind == "velocity_limit"
    counter.api.post(f"/api/v1/cards/{counter.card['id']}/block")
    blocked = _sell(client, counter.card["id"], "10")
    assert blocked.status_code == 409 and "is blocked" in blocked.get_data(as_text=True)
    assert _ledger(session) == before


def test_a_stamps_card_collects_its_stamps_and_gives_its_reward_at_the_counter(
        app: Flask, counter: Counter) -> None:
    program = counter.api.post("/api/v1/programs", {
        "name": "Kava Stamps", "kind": "stamps", "stamps_required": 2, "currency": "UAH",
        "reward_text": "A free coffee"}).get_json()
    card = counter.api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Ira", "phone": "+380931112233"}).get_json()
    client = _cashier(app, "manager@kavabar.example")
    assert "Rewards to redeem" not in _card_page(client, card["id"])
    for _ in range(2):
        assert _sell(client, card["id"], "45").status_code == 201
    page = _card_page(client, card["id"])
    assert "Rewards to redeem" in page and "1 reward waiting" in _text(page)
    given = _sell(client, card["id"], "45", redeem_rewards="1")
    assert given.status_code == 201
    assert "Rewards redeemed" in given.get_data(as_text=True)
    assert counter.api.get(f"/api/v1/cards/{card['id']}").get_json()["rewards"] == 0


def test_the_cashier_points_limit_counts_each_members_own_points(
        app: Flask, session: Session, counter: Counter) -> None:
    counter.api.patch(f"/api/v1/programs/{counter.program['id']}",
                      {"limits": {"points_per_cashier_per_day": 15}})
    client = _cashier(app)
    assert _sell(client, counter.card["id"], "100").status_code == 201  # 10 points
    before = _ledger(session)
    refused = _sell(client, counter.card["id"], "100")  # 10 more would make 20
    assert refused.status_code == 429
    assert "Nothing was recorded" in refused.get_data(as_text=True)
    assert _ledger(session) == before
    manager = _cashier(app, "manager@kavabar.example")
    assert _sell(manager, counter.card["id"], "100").status_code == 201


def test_an_amount_that_is_no_amount_is_refused_beside_the_field_and_nothing_changes(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    for typed in ("12.345", "abc", "0", "-5", "1,2,3"):
        answer = _sell(client, counter.card["id"], typed)
        assert answer.status_code == 422, typed
        assert "as on the receipt" in answer.get_data(as_text=True)
    assert _ledger(session) == (0, 1, 0)  # the welcome points only


@pytest.mark.parametrize(("typed", "currency", "units"), [
    ("123.50", "UAH", 12350), ("123,50", "UAH", 12350), ("123,5", "EUR", 12350),
    ("1 234,50", "UAH", 123450), ("1\u00a0234.05", "USD", 123405), ("7", "UAH", 700),
    ("0.07", "USD", 7), ("1500", "JPY", 1500), ("1500.5", "JPY", None),
    ("12.345", "UAH", None), ("1,234.50", "USD", None), ("", "UAH", None),
    ("0,00", "UAH", None), ("12 34", "UAH", None), ("10000000000000,01", "UAH", None),
])
def test_amounts_are_read_as_a_cashier_types_them_into_exact_minor_units(
        typed: str, currency: str, units: int | None) -> None:
    assert minor_units(typed, currency) == units


def test_a_refund_of_part_of_a_purchase_takes_back_its_share_of_the_points(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app)
    _sell(client, counter.card["id"], "100")  # +10: 60
    purchase = _only(session, Purchase)
    html = _card_page(client, counter.card["id"])
    key = re.search(rf'name="refund{purchase.id}-key" type="hidden" value="([^"]+)"', html)
    assert key is not None
    form = {"csrf": csrf_of(client, "/dashboard/cashier"),
            f"refund{purchase.id}-key": key.group(1), f"refund{purchase.id}-amount": "50"}
    answer = client.post(f"/dashboard/cashier/purchases/{purchase.id}/refund", data=form)
    assert answer.status_code == 201, _text(answer.get_data(as_text=True))
    assert "55 points" in _text(answer.get_data(as_text=True))
    again = client.post(f"/dashboard/cashier/purchases/{purchase.id}/refund", data=form)
    assert again.status_code == 200 and "Refunded already" in again.get_data(as_text=True)
    assert _ledger(session)[2] == 1


def test_a_member_of_several_locations_picks_one_and_may_not_name_another(
        app: Flask, session: Session, counter: Counter) -> None:
    client = _cashier(app, "both@kavabar.example")
    html = _card_page(client, counter.card["id"])
    assert "Podil" in html and "Obolon" in html
    assert _sell(client, counter.card["id"], "10", location=str(counter.obolon)
                 ).status_code == 201
    assert _only(session, Purchase).location_id == counter.obolon
    elsewhere = location(session, counter.merchant_id, counter.program["id"], "Lavra")
    before = _ledger(session)
    refused = _sell(client, counter.card["id"], "10", location=str(elsewhere))
    assert refused.status_code == 403
    assert "your own locations" in refused.get_data(as_text=True)
    assert _ledger(session) == before


def test_another_merchants_card_is_404_at_the_counter(app: Flask, session: Session,
                                                      counter: Counter) -> None:
    theirs = merchant_with_owner(session, "Chai " + uuid.uuid4().hex[:6])
    api = Api(app.test_client(), theirs.api_key)
    program = api.post("/api/v1/programs", {"name": "Chai Club"}).get_json()
    assert "id" in program, program
    card = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Ivan", "email": "ivan@example.com"}).get_json()
    client = _cashier(app)
    assert client.get(f"/dashboard/cashier/cards/{card['id']}").status_code == 404
    assert client.get("/dashboard/cashier", query_string={"q": card["number"]}
                      ).status_code == 404
