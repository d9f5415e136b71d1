"""Importing customers from a CSV file and exporting them, through the API, on SQLite and
PostgreSQL: the preview names every row's problems and writes nothing; the import writes
all or nothing; balances arrive as ``adjust`` entries with the reason "import"; known
customers are matched, not doubled; old card numbers work at the till; the export reads
back in."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.cards.models import AuditEvent, Card, Customer, LegacyCardNumber
from app.cards.numbers import luhn_check_digit
from app.ledger.models import LedgerEntry
from app.outbox.models import OutboxMessage
from tests.conftest import Api, count_rows, new_merchant

HEADER = "name;phone;email;birthday;consent;old card number;balance\n"


def csv_post(api: Api, program_id: int, text: str | bytes, query: str = "",
             content_type: str = "text/csv") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return api.client.post(f"/api/v1/programs/{program_id}/imports{query}", data=data,
                           content_type=content_type,
                           headers={"Authorization": f"Bearer {api.key}"})


@pytest.fixture
def shop(api: Api) -> dict[str, Any]:
    """A points program in Ukraine (local phone numbers), 50 welcome points."""
    program: dict[str, Any] = api.post("/api/v1/programs", {
        "name": "Kava", "currency": "UAH", "earn_percent": 2, "welcome_points": 50,
        "country": "UA", "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2}],
    }).get_json()
    return program


def written(session: Session) -> dict[str, int]:
    """How many rows each table an import writes holds."""
    return {model.__name__: count_rows(session, model) for model in (
        Customer, Card, LedgerEntry, LegacyCardNumber, OutboxMessage, AuditEvent)}


def entries_of(session: Session, card_id: int) -> list[tuple[str, int, str]]:
    session.rollback()
    found = [(entry.kind, entry.points, entry.reason) for entry in session.scalars(
        select(LedgerEntry).where(LedgerEntry.card_id == card_id).order_by(LedgerEntry.id))]
    session.rollback()
    return found


BAD_FILE = HEADER + (
    "Olena;067 123 45 67;olena@example.com;17.05.1990;так;A-100;1 200\n"  # row 2: fine
    "Petro;12345;petro@example.com;;;;\n"  # row 3: a phone of no country
    "Ivan;;not-an-email;;;;\n"  # row 4: a bad email
    ";;;;;;\n"  # row 5: blank, left out
    "Oksana;;;;;;\n"  # row 6: no contact at all
    "Taras;;taras@example.com;;;;-5\n"  # row 7: a negative balance
    "Maria;;maria@example.com;;;;12.5\n"  # row 8: not a whole number
    "Olena again;;OLENA@example.com;;;;\n"  # row 9: the same email as row 2
    "Yurii;;yurii@example.com;31.02.1990;maybe;A100;\n"  # row 10: date, consent, number
)


def test_the_preview_names_each_problem_with_its_row_and_writes_nothing(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    before = written(session)
    response = csv_post(api, shop["id"], BAD_FILE, "?dry_run=true")
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    said = {(problem["row"], problem["field"], problem["code"])
            for problem in preview["problems"]}
    assert said == {
        (3, "phone", "phone_invalid"), (4, "email", "email_invalid"),
        (6, "email", "contact_missing"), (6, "phone", "contact_missing"),
        (7, "balance", "balance_negative"), (8, "balance", "balance_invalid"),
        (9, "email", "duplicate_in_file"),
        (10, "birthday", "birthday_invalid"), (10, "consent", "consent_invalid"),
    }
    assert [p["of_row"] for p in preview["problems"] if p["row"] == 9] == [2]
    assert (preview["rows"], preview["valid_rows"], preview["problem_rows"]) == (8, 1, 7)
    assert preview["new_customers"] == 1 and preview["points"] == 1200
    assert written(session) == before  # and nothing changed


def test_a_file_with_problems_imports_nothing_unless_told_to_skip_them(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    before = written(session)
    refused = csv_post(api, shop["id"], BAD_FILE)
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "import_has_problems"
    assert refused.get_json()["problem_rows"] == 7
    assert written(session) == before  # and nothing changed

    done = csv_post(api, shop["id"], BAD_FILE, "?skip_invalid=true")
    assert done.status_code == 201, done.get_json()
    assert done.get_json() == {"rows": 8, "skipped_rows": 7, "matched": 0,
                               "created_customers": 1, "created_cards": 1,
                               "old_numbers": 1, "points": 1200, "consents_given": 0}
    session.rollback()
    olena = session.scalar(select(Customer).where(Customer.email == "olena@example.com"))
    assert olena is not None and olena.phone == "+380671234567"
    assert olena.marketing_consent and olena.consent_at is not None
    assert str(olena.birthday) == "1990-05-17"


def test_an_import_creates_cards_with_balances_as_import_adjustments(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = HEADER + ("Olena;+380671234567;olena@example.com;1990-05-17;yes;;300\n"
                     "Petro;0501234567;;;no;;0\n")
    response = csv_post(api, shop["id"], text)
    assert response.status_code == 201, response.get_json()
    session.rollback()
    cards = {card.customer.name: card for card in session.scalars(
        select(Card).where(Card.program_id == shop["id"]))}
    assert {name: card.balance for name, card in cards.items()} == {"Olena": 300, "Petro": 0}
    assert all(card.source == "import" and card.tier == "Silver" for card in cards.values())
    # No welcome points unless asked: the opening balance is one adjust entry.
    assert entries_of(session, cards["Olena"].id) == [("adjust", 300, "import")]
    assert entries_of(session, cards["Petro"].id) == []
    consent = session.scalars(select(AuditEvent).where(
        AuditEvent.customer_id == cards["Olena"].customer_id)).all()
    assert [(event.action, event.detail["via"]) for event in consent] == [
        ("consent.given", "import")]
    # Each card is there for the worker as an enrolled one is (its Google object).
    queued = session.scalars(select(OutboxMessage.card_id).where(
        OutboxMessage.card_id.is_not(None))).all()
    assert sorted(queued) == sorted(card.id for card in cards.values())
    olena = cards["Olena"].id
    session.rollback()
    card = api.get(f"/api/v1/cards/{olena}").get_json()
    assert card["balance"] == 300


def test_welcome_points_come_only_when_the_merchant_asks(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = HEADER + "Olena;;olena@example.com;;;;100\n"
    assert csv_post(api, shop["id"], text, "?welcome=true").status_code == 201
    session.rollback()
    card = session.scalar(select(Card).where(Card.program_id == shop["id"]))
    assert card is not None and card.balance == 150
    assert entries_of(session, card.id) == [("adjust", 100, "import"),
                                            ("welcome", 50, "welcome")]


def test_a_customer_already_in_the_program_is_matched_not_doubled(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    enrolled = api.post(f"/api/v1/programs/{shop['id']}/cards",
                        {"name": "Olena", "phone": "+380671234567"}).get_json()
    before = written(session)
    text = HEADER + "Olena K;067 123 45 67;;;;;500\n"
    preview = csv_post(api, shop["id"], text, "?dry_run=true").get_json()
    assert preview["matched"] == 1 and preview["outcomes"] == [{"row": 2, "outcome": "matched"}]
    summary = csv_post(api, shop["id"], text).get_json()
    assert summary["matched"] == 1 and summary["created_cards"] == 0
    assert written(session) == before  # no second customer, card or balance
    assert api.get(f"/api/v1/cards/{enrolled['id']}").get_json()["balance"] == 50


def test_importing_the_same_file_again_changes_nothing(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = HEADER + ("Olena;;olena@example.com;;yes;A-100;300\n"
                     "Petro;0501234567;;;;B 200;20\n")
    assert csv_post(api, shop["id"], text).status_code == 201
    after_first = written(session)
    again = csv_post(api, shop["id"], text)
    assert again.status_code == 201
    assert again.get_json()["matched"] == 2 and again.get_json()["created_cards"] == 0
    assert written(session) == after_first


def test_a_customer_of_another_program_gets_a_card_here_and_keeps_their_record(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    other = api.post("/api/v1/programs", {"name": "Tea", "currency": "UAH"}).get_json()
    api.post(f"/api/v1/programs/{other['id']}/cards", {"name": "Olena",
                                                        "email": "olena@example.com"})
    text = HEADER + "Olena Kovalenko;;olena@example.com;;yes;;70\n"
    summary = csv_post(api, shop["id"], text).get_json()
    assert (summary["created_customers"], summary["created_cards"]) == (0, 1)
    assert summary["consents_given"] == 1
    session.rollback()
    assert count_rows(session, Customer) == 1
    customer = session.scalar(select(Customer))
    assert customer is not None and customer.name == "Olena" and customer.marketing_consent


def test_an_old_number_in_use_is_a_problem_of_its_row(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    assert csv_post(api, shop["id"], HEADER + "Olena;;olena@example.com;;;A-100;\n"
                    ).status_code == 201
    card = api.post(f"/api/v1/programs/{shop['id']}/cards",
                    {"name": "Ira", "email": "ira@example.com"}).get_json()
    text = HEADER + (f"Petro;;petro@example.com;;;a100;\n"
                     f"Ivan;;ivan@example.com;;;{card['number']};\n")
    preview = csv_post(api, shop["id"], text, "?dry_run=true").get_json()
    assert [(p["row"], p["code"]) for p in preview["problems"]] == [
        (2, "old_number_taken"), (3, "old_number_taken")]


def test_old_numbers_find_the_card_at_lookup_and_purchase(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = HEADER + "Olena;;olena@example.com;;;0042-7781;300\n"
    assert csv_post(api, shop["id"], text).status_code == 201
    found = api.post("/api/v1/pos/lookup", {"barcode": "0042 7781"})
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["balance"] == 300
    bought = api.post("/api/v1/pos/purchases", {"barcode": "00427781", "amount": 10_000},
                      headers={"Idempotency-Key": uuid.uuid4().hex})
    assert bought.status_code == 201, bought.get_json()
    assert bought.get_json()["card_id"] == found.get_json()["id"]
    assert bought.get_json()["balance"] == 300 + 2
    # An old number that reads as one of ours (12 digits, a valid check digit) too.
    twelve = "40000000000" + luhn_check_digit("40000000000")
    assert csv_post(api, shop["id"], HEADER + f"Petro;;petro@example.com;;;{twelve};9\n"
                    ).status_code == 201
    petro = api.post("/api/v1/pos/purchases", {"barcode": twelve, "amount": 10_000},
                     headers={"Idempotency-Key": uuid.uuid4().hex})
    assert petro.status_code == 201 and petro.get_json()["balance"] == 9 + 2
    # Another merchant's till does not find it.
    stranger = new_merchant(api.client, session, "Other")
    assert stranger.post("/api/v1/pos/lookup", {"barcode": "00427781"}).status_code == 404
    missed = stranger.post("/api/v1/pos/purchases", {"barcode": "00427781", "amount": 100},
                           headers={"Idempotency-Key": uuid.uuid4().hex})
    assert missed.status_code == 404 and missed.get_json()["code"] == "unknown_barcode"


def test_a_failed_import_leaves_nothing_written(
        api: Api, shop: dict[str, Any], session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.imports import writes

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away mid-import")

    monkeypatch.setattr(writes, "queue_pass_updates", broken)  # the last write of all
    before = written(session)
    api.client.application.config["PROPAGATE_EXCEPTIONS"] = False
    response = csv_post(api, shop["id"], HEADER + "Olena;;olena@example.com;;yes;A1;300\n")
    assert response.status_code == 500
    assert written(session) == before


def test_the_export_reads_back_in_as_the_same_customers_and_balances(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = HEADER + ("=cmd|'/c calc'!A1;;olena@example.com;1990-05-17;yes;A-100;300\n"
                     "Petro;0501234567;;;no;;20\n")
    assert csv_post(api, shop["id"], text).status_code == 201
    exported = api.get(f"/api/v1/programs/{shop['id']}/cards.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    body = exported.get_data(as_text=True)
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0] == ("name,phone,email,birthday,consent,old card number,balance,"
                        "card number,tier,created,source")
    assert lines[1].startswith("'=cmd|'/c calc'!A1,,olena@example.com,1990-05-17,yes,A100,"
                               "300,")
    assert lines[2].startswith("Petro,+380501234567,,,no,,20,")

    elsewhere = new_merchant(api.client, session, "Elsewhere")
    program = elsewhere.post("/api/v1/programs", {"name": "Moved", "currency": "UAH"}
                             ).get_json()
    summary = csv_post(elsewhere, program["id"], exported.get_data()).get_json()
    assert summary["created_cards"] == 2 and summary["points"] == 320
    again = elsewhere.get(f"/api/v1/programs/{program['id']}/cards.csv").get_data(as_text=True)
    moved = [line.split(",")[:7] for line in again.lstrip("\ufeff").splitlines()]
    assert moved == [line.split(",")[:7] for line in lines]


def test_the_export_is_for_readers_and_the_import_for_owners_and_managers(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    from app.merchants.models import Program
    from app.merchants.service import create_api_key

    program = session.get(Program, shop["id"])
    assert program is not None
    merchant_id = program.merchant_id
    session.rollback()
    for role, imports, exports in (("manager", 201, 200), ("analyst", 403, 200),
                                   ("cashier", 403, 403)):
        key = create_api_key(session, merchant_id=merchant_id, role=role, name=role)
        caller = Api(api.client, key)
        assert csv_post(caller, shop["id"], HEADER).status_code == imports
        assert caller.get(f"/api/v1/programs/{shop['id']}/cards.csv").status_code == exports
    stranger = new_merchant(api.client, session, "Stranger")
    assert csv_post(stranger, shop["id"], HEADER).status_code == 404
    assert stranger.get(f"/api/v1/programs/{shop['id']}/cards.csv").status_code == 404


def test_an_analyst_exports_contacts_masked_and_a_location_key_its_own_cards_only(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    from app.merchants.models import Program
    from app.merchants.service import create_api_key

    text = HEADER + ("Olena;0671234567;olena@example.com;1990-05-17;yes;A-100;300\n"
                     "Petro;0501234567;;;no;;20\n")
    assert csv_post(api, shop["id"], text).status_code == 201
    counter = api.post(f"/api/v1/programs/{shop['id']}/locations", {"name": "Podil"}
                       ).get_json()
    enrolled = api.post(f"/api/v1/programs/{shop['id']}/cards", {
        "name": "Iryna", "email": "iryna@example.com"}).get_json()
    session.execute(update(Card).where(Card.id == enrolled["id"])
                    .values(location_id=counter["id"]))  # as if she joined at that counter
    session.commit()
    program = session.get(Program, shop["id"])
    assert program is not None
    merchant_id = program.merchant_id
    session.rollback()

    def exported(key: str) -> list[list[str]]:
        body = Api(api.client, key).get(f"/api/v1/programs/{shop['id']}/cards.csv")
        assert body.status_code == 200
        return [line.split(",") for line in body.get_data(as_text=True)
                .lstrip("\ufeff").splitlines()[1:]]

    analyst = exported(create_api_key(session, merchant_id=merchant_id, role="analyst"))
    assert [row[:5] for row in analyst] == [
        ["Olena", "'+380***67", "o***@example.com", "", "yes"],
        ["Petro", "'+380***67", "", "", "no"],
        ["Iryna", "", "i***@example.com", "", "no"]]
    bound = exported(create_api_key(session, merchant_id=merchant_id, role="manager",
                                    location_id=counter["id"]))
    assert [row[:3] for row in bound] == [["Iryna", "", "iryna@example.com"]]


def test_ledger_balances_equal_their_entries_after_an_import(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    rows = "".join(f"Customer {n};;c{n}@example.com;;;N{n};{n * 7}\n" for n in range(50))
    assert csv_post(api, shop["id"], HEADER + rows, "?welcome=true").status_code == 201
    session.rollback()
    sums = {row.card_id: row.total for row in session.execute(
        select(LedgerEntry.card_id, func.sum(LedgerEntry.points).label("total"))
        .group_by(LedgerEntry.card_id))}
    balances = {row.id: row.balance for row in session.execute(select(Card.id, Card.balance))}
    assert len(balances) == 50 and balances == sums
