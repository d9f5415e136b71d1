"""What a merchant's spreadsheet may look like (Excel's CSV in ru/uk locales, UTF-8 with a
byte order mark or Windows-1251, Russian and Ukrainian headers, DD.MM.YYYY dates) and
what a hostile upload may be (binary, NUL, huge lines, the wrong media type, too large,
formulas for the export): each is read, or refused with a clear 4xx, never a 500, and a
refused file writes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.contacts import ContactInvalid, EmailReader, normalize_email
from app.cards.models import Card, Customer
from app.imports import sheet, writes
from app.imports.checks import RowTerms, check_row
from app.web import imports as import_views
from tests.conftest import Api
from tests.test_imports import HEADER, csv_post, written


@pytest.fixture
def shop(api: Api) -> dict[str, Any]:
    program: dict[str, Any] = api.post("/api/v1/programs", {
        "name": "Kava", "currency": "UAH", "country": "UA"}).get_json()
    return program


def preview(api: Api, shop: dict[str, Any], data: str | bytes) -> dict[str, Any]:
    response = csv_post(api, shop["id"], data, "?dry_run=true")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_excel_csv_utf8_with_a_byte_order_mark_and_ukrainian_headers_is_read(
        api: Api, shop: dict[str, Any]) -> None:
    text = ("\ufeffІмʼя;Телефон;Ел. пошта;Дата народження;Згода;Номер картки;Баланс\r\n"
            "Олена;067 123 45 67;olena@example.com;17.05.1990;так;A-1;1 200\r\n")
    said = preview(api, shop, text.encode())
    assert said["columns"] == ["name", "phone", "email", "birthday", "consent",
                               "old card number", "balance"]
    assert (said["valid_rows"], said["problems"], said["points"]) == (1, [], 1200)


def test_windows_1251_with_russian_headers_and_commas_is_read(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    text = ("Имя,Телефон,E-mail,День рождения,Согласие,Старый номер карты,Бонусы,Заметка\r\n"
            "\"Коваленко, Олена\",+380671234567,,1990-05-17,да,777,5,VIP\r\n")
    said = preview(api, shop, text.encode("cp1251"))
    assert said["ignored_columns"] == ["Заметка"] and said["problems"] == []
    assert csv_post(api, shop["id"], text.encode("cp1251")).status_code == 201
    session.rollback()
    customer = session.scalar(select(Customer))
    assert customer is not None and customer.name == "Коваленко, Олена"


@pytest.mark.parametrize(("data", "said"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
    (b"name;email\nOlena;o@example.com\x00\n", "NUL"),
    (b"name;email\n\"" + b"x" * 200_000 + b"\";a@example.com\n", "field larger"),
    (b"phone;email\n0671234567;a@example.com\n", "no 'name' column"),
    (b"name;phone;tel\nOlena;0671234567;0671234567\n", "Two columns"),
    (b";;\n;;\n", "no header"),
])
def test_a_file_that_is_no_csv_table_is_refused_and_nothing_written(
        api: Api, shop: dict[str, Any], session: Session, data: bytes, said: str) -> None:
    before = written(session)
    for query in ("?dry_run=true", ""):
        response = csv_post(api, shop["id"], data, query)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["code"] == "csv_unreadable"
        assert said in response.get_json()["detail"]
    assert written(session) == before


def test_long_cells_and_control_characters_are_problems_of_their_rows(
        api: Api, shop: dict[str, Any]) -> None:
    text = HEADER + ("O" * 400 + ";;o@example.com;;;;\n"
                     "Ol\x07ena;;o2@example.com;;;;\n"
                     "Petro;;petro@example.com;;;" + "9" * 40 + ";\n")
    said = preview(api, shop, text)
    assert [(p["row"], p["field"], p["code"]) for p in said["problems"]] == [
        (2, "name", "too_long"), (3, "name", "control_characters"),
        (4, "old card number", "old_number_invalid")]


def test_too_many_rows_too_large_a_body_and_the_wrong_media_type_are_refused(
        api: Api, shop: dict[str, Any], session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = written(session)
    monkeypatch.setattr(sheet, "MAX_ROWS", 2)
    rows = "".join(f"C{n};;c{n}@example.com;;;;\n" for n in range(3))
    many = csv_post(api, shop["id"], HEADER + rows)
    assert (many.status_code, many.get_json()["code"]) == (422, "csv_unreadable")

    monkeypatch.setattr(import_views, "MAX_BYTES", 1024)
    big = csv_post(api, shop["id"], HEADER + "x" * 2000)
    assert (big.status_code, big.get_json()["code"]) == (413, "import_too_large")

    json_body = csv_post(api, shop["id"], b'{"name": "Olena"}', content_type="application/json")
    assert (json_body.status_code, json_body.get_json()["code"]) == (
        415, "unsupported_media_type")
    assert csv_post(api, shop["id"], b"").status_code == 422
    flag = csv_post(api, shop["id"], HEADER, "?dry_run=maybe")
    assert flag.status_code == 422 and flag.get_json()["errors"][0]["field"] == "dry_run"
    assert written(session) == before


def test_an_import_that_meets_a_concurrent_change_is_a_conflict_and_writes_nothing(
        api: Api, shop: dict[str, Any], session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    card = api.post(f"/api/v1/programs/{shop['id']}/cards",
                    {"name": "Ira", "email": "ira@example.com"}).get_json()
    # As if another enrolment took the id (or a number) between the reads and the writes.
    monkeypatch.setattr(writes, "_new_ids", lambda session, table, count: [card["id"]] * count)
    before = written(session)
    response = csv_post(api, shop["id"], HEADER + "Olena;;olena@example.com;;yes;A1;30\n")
    assert (response.status_code, response.get_json()["code"]) == (409, "import_conflict")
    assert written(session) == before


def test_an_empty_sheet_imports_nothing_and_says_so(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    before = written(session)
    response = csv_post(api, shop["id"], HEADER)
    assert response.status_code == 201
    assert response.get_json()["created_cards"] == 0
    assert written(session) == before


def test_the_export_keeps_spreadsheets_from_running_formulas(
        api: Api, shop: dict[str, Any], session: Session) -> None:
    names = ["=1+1", "+1", "-2", "@SUM(A1)", "Olena"]
    text = HEADER + "".join(f"{name};;c{n}@example.com;;;;\n" for n, name in enumerate(names))
    assert csv_post(api, shop["id"], text).status_code == 201
    exported = api.get(f"/api/v1/programs/{shop['id']}/cards.csv").get_data(as_text=True)
    cells = [line.split(",")[0] for line in exported.lstrip("\ufeff").splitlines()[1:]]
    assert cells == ["'=1+1", "'+1", "'-2", "'@SUM(A1)", "Olena"]
    session.rollback()
    assert sorted(session.scalars(select(Customer.name))) == sorted(names)
    assert len(session.scalars(select(Card.id)).all()) == len(names)


FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None)
_SHEET_BYTES = st.one_of(
    st.binary(max_size=400),
    st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=6).map(
        lambda rows: "\n".join(";".join(cells) for cells in [["name", "phone", "email",
                                                             "birthday", "consent",
                                                             "old card number",
                                                             "balance"], *rows]).encode()))


@FUZZ
@given(data=_SHEET_BYTES)
def test_any_bytes_are_read_as_rows_with_their_problems_or_refused_as_no_csv(
        data: bytes) -> None:
    terms = RowTerms(country="UA", contact="either", kind="points")
    try:
        read = sheet.read_sheet(data)
    except sheet.CsvUnreadable as refused:
        assert refused.status == 422 and refused.code == "csv_unreadable"
        return
    reader = EmailReader()
    for row in read.rows:
        checked = check_row(terms, row, today=date(2026, 12, 4), email_reader=reader)
        assert (checked.candidate is None) == bool(checked.faults)
        for fault in checked.faults:
            assert fault.row == row.row and fault.field in set(sheet.Column)


@FUZZ
@given(local=st.one_of(st.from_regex(r"[A-Za-z0-9._+'=!#`{}|~^/-]{1,70}", fullmatch=True),
                      st.text(max_size=70)),
       domain=st.sampled_from(["example.com", "ukr.net", "Gmail.COM", "a..b", "-x.com",
                               "xn--80ak6aa92e.com", "test", "пошта.укр"]))
def test_the_email_reader_answers_as_the_enrolment_does(local: str, domain: str) -> None:
    reader = EmailReader()
    for address in (f"first@{domain}", f"{local}@{domain}", f"{local}@first.com"):
        try:
            expected: str | None = normalize_email(address)
        except ContactInvalid:
            expected = None
        try:
            said: str | None = reader(address)
        except ContactInvalid:
            said = None
        assert said == expected
