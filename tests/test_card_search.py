"""The customer search (``GET /api/v1/programs/{id}/cards``): a merchant finds a card by
the customer's name, phone, email or card number however they type it, newest first, a
page at a time, and never another merchant's; each role sees what it may."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.cards import search
from app.cards.models import Card
from app.cards.search import search_cards
from app.ledger.models import AuditRecord
from app.merchants.models import Program
from app.merchants.schemas import LocationCreate
from app.merchants.service import create_api_key, create_location, get_program
from tests.conftest import Api, count_rows, new_merchant

PEOPLE = [
    ("Олена Коваль", "olena.koval@example.com", "+380671234567"),
    ("Олег Петренко", "oleg@example.org", "+380501112233"),
    ("Ірина Ковальчук", "IRYNA.K@Mail.example", None),
    ("John Smith", None, "+48601987654"),
    ("Мар'яна Бондар", "mariana_b@example.net", "+380931234500"),
]


@pytest.fixture
def kava(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {"name": "Kava", "country": "UA"})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _enroll(api: Api, program_id: int, name: str, email: str | None,
            phone: str | None) -> dict[str, Any]:
    body = {"name": name, **({"email": email} if email else {}),
            **({"phone": phone} if phone else {})}
    response = api.post(f"/api/v1/programs/{program_id}/cards", body)
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


@pytest.fixture
def people(api: Api, kava: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: _enroll(api, kava["id"], name, email, phone)
            for name, email, phone in PEOPLE}


def _found(api: Api, program_id: int, q: str, **params: Any) -> list[str]:
    response = api.get(f"/api/v1/programs/{program_id}/cards",
                       query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    return [card["customer"]["name"] for card in response.get_json()["cards"]]


@pytest.mark.parametrize(("typed", "names"), [
    ("олена", ["Олена Коваль"]),
    ("ОЛЕНА", ["Олена Коваль"]),
    ("коваль", ["Ірина Ковальчук", "Олена Коваль"]),  # newest first
    ("валь", ["Ірина Ковальчук", "Олена Коваль"]),  # in the middle of a word
    ("коваль олена", ["Олена Коваль"]),  # every word, in any order
    ("  Олена   Ков ", ["Олена Коваль"]),
    ("ірина", ["Ірина Ковальчук"]),
    ("SMITH", ["John Smith"]),
    ("мар'яна", ["Мар'яна Бондар"]),
    ("оле", ["Олег Петренко", "Олена Коваль"]),
    ("олена петренко", []),
])
def test_a_name_or_part_of_one_finds_the_card_in_any_case_and_script(
        api: Api, kava: dict[str, Any], people: Any, typed: str, names: list[str]) -> None:
    assert _found(api, kava["id"], typed) == names


@pytest.mark.parametrize("typed", [
    "+380 67 123 45 67", "0671234567", "67 123 45 67", "(067) 123-45-67", "+380671234567",
    "380671234567", "1234567", "45 67",
])
def test_a_phone_typed_as_a_cashier_types_it_finds_the_card(
        api: Api, kava: dict[str, Any], people: Any, typed: str) -> None:
    assert _found(api, kava["id"], typed) == ["Олена Коваль"]


def test_a_foreign_phone_is_found_by_its_national_digits(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    assert _found(api, kava["id"], "+48 601 987 654") == ["John Smith"]
    assert _found(api, kava["id"], "601 987 654") == ["John Smith"]
    # Too few digits to be a phone number's end: nothing, rather than a tenth of everyone.
    assert _found(api, kava["id"], "67") == []


@pytest.mark.parametrize(("typed", "names"), [
    ("olena.koval@example.com", ["Олена Коваль"]),
    ("OLENA.KOVAL@", ["Олена Коваль"]),
    ("iryna.k@mail", ["Ірина Ковальчук"]),
    ("example.org", ["Олег Петренко"]),
    ("mariana_b", ["Мар'яна Бондар"]),
])
def test_an_email_or_part_of_one_finds_the_card_whatever_the_case(
        api: Api, kava: dict[str, Any], people: Any, typed: str, names: list[str]) -> None:
    assert _found(api, kava["id"], typed) == names


def test_wildcards_typed_are_plain_characters(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    assert _found(api, kava["id"], "%") == []
    assert _found(api, kava["id"], "mariana%b") == []
    # "_" is only itself: "mariana_b" above, and not "mariana" followed by any character.
    assert _found(api, kava["id"], "a_b") == ["Мар'яна Бондар"]
    assert _found(api, kava["id"], "n_b") == []


def test_a_card_number_finds_its_card_with_or_without_spaces(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    card = people["Олег Петренко"]
    number = card["number"]
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    for typed in (number, grouped, grouped.replace(" ", "-")):
        response = api.get(f"/api/v1/programs/{kava['id']}/cards", query_string={"q": typed})
        assert [found["id"] for found in response.get_json()["cards"]] == [card["id"]]
    assert _found(api, kava["id"], number[:-1] + str((int(number[-1]) + 1) % 10)) == []


def test_a_blank_query_lists_every_card_newest_first(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    newest_first = [name for name, _, _ in reversed(PEOPLE)]
    assert _found(api, kava["id"], "") == newest_first
    response = api.get(f"/api/v1/programs/{kava['id']}/cards")
    assert [card["customer"]["name"] for card in response.get_json()["cards"]] == newest_first
    assert response.get_json()["next"] is None


def test_the_answer_is_the_card_shape_with_the_customer(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    body = api.get(f"/api/v1/programs/{kava['id']}/cards",
                   query_string={"q": "олена"}).get_json()
    # The card as enrolment answered it, with its RFM segment (none before one is computed).
    assert body["cards"] == [{**people["Олена Коваль"], "segment": None, "customer": {
        **people["Олена Коваль"]["customer"], "masked": False}}]


def test_another_merchants_cards_are_never_found_and_its_program_is_404(
        client: FlaskClient, session: Session, api: Api, kava: dict[str, Any],
        people: Any) -> None:
    other = new_merchant(client, session, "Other Cafe")
    theirs = other.post("/api/v1/programs", {"name": "Theirs", "country": "UA"}).get_json()
    _enroll(other, theirs["id"], "Олена Ковальська", "olena@other.example", "+380671234567")
    assert _found(api, kava["id"], "олена") == ["Олена Коваль"]
    assert _found(api, kava["id"], "0671234567") == ["Олена Коваль"]
    assert _found(other, theirs["id"], "olena.koval") == []
    assert _found(other, theirs["id"], people["Олена Коваль"]["number"]) == []
    response = other.get(f"/api/v1/programs/{kava['id']}/cards", query_string={"q": "олена"})
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_a_card_of_the_merchants_other_program_is_not_listed(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    second = api.post("/api/v1/programs", {"name": "Bakery", "country": "UA"}).get_json()
    # The same customer (by email) in the second program too.
    _enroll(api, second["id"], "Олена Коваль", "olena.koval@example.com", None)
    assert _found(api, second["id"], "") == ["Олена Коваль"]
    assert _found(api, second["id"], "oleg") == []
    assert _found(api, kava["id"], "коваль") == ["Ірина Ковальчук", "Олена Коваль"]


@pytest.mark.parametrize("candidates", [search.CANDIDATES, 2])
def test_paging_by_before_visits_every_card_once_in_order_while_new_cards_arrive(
        monkeypatch: pytest.MonkeyPatch, api: Api, kava: dict[str, Any],
        candidates: int) -> None:
    # With 2, a fragment held by more customers than that walks the newest cards.
    monkeypatch.setattr(search, "CANDIDATES", candidates)
    first = [_enroll(api, kava["id"], f"Покупець {n}", f"buyer{n}@example.com", None)["id"]
             for n in range(12)]
    seen: list[int] = []
    before: int | None = None
    while True:
        params = {"limit": 5, **({"before": before} if before else {})}
        body = api.get(f"/api/v1/programs/{kava['id']}/cards",
                       query_string={"q": "покупець", **params}).get_json()
        seen += [card["id"] for card in body["cards"]]
        # Cards enrolled between pages come before the first page: never in a later one.
        _enroll(api, kava["id"], f"Покупець new {len(seen)}", f"new{len(seen)}@example.com",
                None)
        if body["next"] is None:
            break
        assert body["next"] == seen[-1]
        before = body["next"]
    assert seen == sorted(first, reverse=True)


@pytest.mark.parametrize("bounds", [{"WALK": 1}, {"CANDIDATES": 1}, {"WALK": 1, "CANDIDATES": 1}])
def test_each_way_of_finding_a_fragment_finds_the_same_cards(
        monkeypatch: pytest.MonkeyPatch, api: Api, kava: dict[str, Any], people: Any,
        bounds: dict[str, int]) -> None:
    """The newest cards walked first, the customers fetched by the indexes, and the walk
    past them for a common fragment (``app.cards.search._customer_card_ids``)."""
    typed = ("коваль", "оле", "0671234567", "example", "45 67", "ковальчук ірина", "zzz")
    usual = {text: _found(api, kava["id"], text) for text in typed}
    assert usual["коваль"] == ["Ірина Ковальчук", "Олена Коваль"]
    for name, value in bounds.items():
        monkeypatch.setattr(search, name, value)
    assert {text: _found(api, kava["id"], text) for text in typed} == usual


def test_a_page_as_long_as_the_rest_says_there_is_no_next(
        api: Api, kava: dict[str, Any], people: Any) -> None:
    body = api.get(f"/api/v1/programs/{kava['id']}/cards",
                   query_string={"limit": len(PEOPLE)}).get_json()
    assert len(body["cards"]) == len(PEOPLE) and body["next"] is None
    body = api.get(f"/api/v1/programs/{kava['id']}/cards",
                   query_string={"limit": len(PEOPLE) - 1}).get_json()
    assert body["next"] == body["cards"][-1]["id"]


def test_owners_and_managers_see_contacts_whole_and_analysts_masked(
        client: FlaskClient, session: Session, api: Api, kava: dict[str, Any],
        people: Any) -> None:
    merchant_id = get_program_merchant(session, kava["id"])
    for role in ("owner", "manager"):
        key = Api(client, create_api_key(session, merchant_id=merchant_id, role=role))
        customer = key.get(f"/api/v1/programs/{kava['id']}/cards",
                           query_string={"q": "олена"}).get_json()["cards"][0]["customer"]
        assert (customer["email"], customer["phone"], customer["masked"]) == (
            "olena.koval@example.com", "+380671234567", False)
    analyst = Api(client, create_api_key(session, merchant_id=merchant_id, role="analyst"))
    customer = analyst.get(f"/api/v1/programs/{kava['id']}/cards",
                           query_string={"q": "0671234567"}).get_json()["cards"][0]["customer"]
    assert customer == {**customer, "name": "Олена Коваль", "email": "o***@example.com",
                        "phone": "+380***67", "birthday": None, "masked": True}


def test_an_analyst_gets_nothing_that_acts_for_the_customer_in_a_list_or_a_card(
        client: FlaskClient, session: Session, api: Api, kava: dict[str, Any],
        people: Any) -> None:
    """The card link can change and erase the customer's data, the pass download carries
    the pass's web-service token, and a till accepts the barcode message: a read-only role
    gets none of them, from the list or from the card itself."""
    analyst = Api(client, create_api_key(session, merchant_id=get_program_merchant(
        session, kava["id"]), role="analyst"))
    listed = analyst.get(f"/api/v1/programs/{kava['id']}/cards",
                         query_string={"q": "олена"}).get_json()["cards"][0]
    whole = api.get(f"/api/v1/cards/{listed['id']}").get_json()
    assert whole["card_url"] and whole["apple_pass_url"] and whole["barcode"]["message"]
    for card in (listed, analyst.get(f"/api/v1/cards/{listed['id']}").get_json()):
        assert (card["card_url"], card["apple_pass_url"], card["barcode"]["message"],
                card.get("google_save_url")) == (None, None, None, None)
        assert card["customer"] == {**card["customer"], "email": "o***@example.com",
                                    "birthday": None, "masked": True}
        assert (card["number"], card["balance"]) == (whole["number"], whole["balance"])


def test_a_cashier_key_may_not_search(client: FlaskClient, session: Session, api: Api,
                                      kava: dict[str, Any], people: Any) -> None:
    cashier = Api(client, create_api_key(session, merchant_id=get_program_merchant(
        session, kava["id"]), role="cashier"))
    response = cashier.get(f"/api/v1/programs/{kava['id']}/cards", query_string={"q": "олена"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "role_forbidden"


def test_a_key_bound_to_a_location_finds_the_cards_enrolled_there_only(
        client: FlaskClient, session: Session, api: Api, kava: dict[str, Any],
        people: Any) -> None:
    program = session.get(Program, kava["id"])
    assert program is not None
    counter = create_location(session, program=program, data=LocationCreate(name="Podil"))
    here = [people["Олена Коваль"]["id"], people["Олег Петренко"]["id"]]
    session.execute(update(Card).where(Card.id.in_(here)).values(location_id=counter.id))
    session.commit()
    manager = Api(client, create_api_key(session, merchant_id=program.merchant_id,
                                         role="manager", location_id=counter.id))
    assert _found(manager, kava["id"], "") == ["Олег Петренко", "Олена Коваль"]
    assert _found(manager, kava["id"], "коваль") == ["Олена Коваль"]
    assert _found(manager, kava["id"], people["John Smith"]["number"]) == []
    assert _found(api, kava["id"], "коваль") == ["Ірина Ковальчук", "Олена Коваль"]


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "-1"}, "limit"), ({"limit": "1.5"}, "limit"), ({"before": "0"}, "before"),
    ({"before": str(2**31)}, "before"), ({"before": "x"}, "before"),
    ({"q": "o" * 201}, "q"), ({"q": "ol\x00ena"}, "q"), ({"q": "ol\x1bena"}, "q"),
])
def test_bad_parameters_are_422_naming_the_parameter_and_nothing_changes(
        session: Session, api: Api, kava: dict[str, Any], people: Any,
        params: dict[str, str], field: str) -> None:
    cards = count_rows(session, Card)
    response = api.get(f"/api/v1/programs/{kava['id']}/cards", query_string=params)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid" and body["errors"][0]["field"] == field
    assert count_rows(session, Card) == cards


def test_the_service_pages_the_dashboard_the_same_way(
        session: Session, api: Api, kava: dict[str, Any], people: Any) -> None:
    program = get_program(session, merchant_id=get_program_merchant(session, kava["id"]),
                          program_id=kava["id"])
    page = search_cards(session, program=program, query="коваль", limit=1)
    assert [card.customer.name for card in page.cards] == ["Ірина Ковальчук"]
    assert page.next == page.cards[0].id
    rest = search_cards(session, program=program, query="коваль", limit=1, before=page.next)
    assert [card.customer.name for card in rest.cards] == ["Олена Коваль"]
    assert rest.next is None


def get_program_merchant(session: Session, program_id: int) -> int:
    program = session.get(Program, program_id)
    assert program is not None
    merchant_id = program.merchant_id
    session.rollback()
    return merchant_id


def test_an_old_card_number_from_an_import_finds_its_card_however_it_is_typed(
        session: Session, api: Api, kava: dict[str, Any], people: Any) -> None:
    text = ("name;email;old card number;balance\n"
            "Taras Shevchenko;taras@example.com;0042-7781;300\n"
            "Lesia Ukrainka;lesia@example.com;AB 12;10\n")
    imported = api.client.post(f"/api/v1/programs/{kava['id']}/imports", data=text.encode(),
                               content_type="text/csv",
                               headers={"Authorization": f"Bearer {api.key}"})
    assert imported.status_code == 201, imported.get_json()
    for typed in ("0042-7781", "00427781", "0042 7781"):
        assert _found(api, kava["id"], typed) == ["Taras Shevchenko"], typed
    assert _found(api, kava["id"], "ab-12") == ["Lesia Ukrainka"]
    assert _found(api, kava["id"], "0042778") == []  # an old number matches whole only
    # Another program of the merchant does not list them.
    other = api.post("/api/v1/programs", {"name": "Tea", "country": "UA"}).get_json()
    assert _found(api, other["id"], "00427781") == []


def test_a_writer_key_bound_to_a_location_changes_that_locations_cards_only(
        client: FlaskClient, session: Session, api: Api, kava: dict[str, Any],
        people: Any) -> None:
    """As the dashboard's manager limited to a location: the cards it lists are the ones
    it may correct, block or give a new link; another's is 403 and nothing changes."""
    program = session.get(Program, kava["id"])
    assert program is not None
    counter = create_location(session, program=program, data=LocationCreate(name="Podil"))
    ours = people["Олена Коваль"]["id"]
    session.execute(update(Card).where(Card.id == ours).values(location_id=counter.id))
    session.commit()
    manager = Api(client, create_api_key(session, merchant_id=program.merchant_id,
                                         role="manager", location_id=counter.id))
    other = people["John Smith"]["id"]
    before = count_rows(session, AuditRecord)
    for path, body in ((f"/api/v1/cards/{other}/adjustments", {"points": 5, "reason": "x"}),
                       (f"/api/v1/cards/{other}/block", {}),
                       (f"/api/v1/cards/{other}/link", {})):
        refused = manager.post(path, body, headers={"Idempotency-Key": "k-" + path})
        assert refused.status_code == 403, (path, refused.get_json())
        assert refused.get_json()["code"] == "location_forbidden"
    assert count_rows(session, AuditRecord) == before
    card = session.get(Card, other)
    assert card is not None and (card.balance, card.status, card.link_version) == (0, "active", 0)
    session.rollback()
    done = manager.post(f"/api/v1/cards/{ours}/adjustments", {"points": 5, "reason": "x"},
                        headers={"Idempotency-Key": "k-ours"})
    assert done.status_code == 201, done.get_json()
    # Its export holds the cards it may list and change: that location's.
    exported = manager.get(f"/api/v1/programs/{kava['id']}/cards.csv").get_data(as_text=True)
    assert "Олена Коваль" in exported and "John Smith" not in exported
