"""A program's join settings through the API, and the join form they shape: which contact
it requires, the birthday, the country phones are read in, the terms and privacy notice."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from tests.conftest import Api, count_rows


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def post_join(client: FlaskClient, slug: str, lang: str = "en", **fields: str) -> Any:
    path = f"/join/{slug}?lang={lang}"
    return client.post(path, data={"csrf": csrf(client.get(path).text), **fields})


def new_program(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {"name": "Kava Club", "locales": ["en", "uk", "ru"],
                                             **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_a_program_keeps_its_join_settings_and_shows_them(api: Api) -> None:
    created = new_program(api, contact="both", ask_birthday=True, country="PL",
                          terms_url="https://kava.example/terms",
                          privacy="We keep your name and phone.\n\nAsk us to delete them.")
    shown = api.get(f"/api/v1/programs/{created['id']}").get_json()
    for body in (created, shown):
        assert body["contact"] == "both" and body["ask_birthday"] is True
        assert body["country"] == "PL"
        assert body["terms_url"] == "https://kava.example/terms"
        assert body["privacy"] == "We keep your name and phone.\n\nAsk us to delete them."
        assert body["privacy_url"] is None
    changed = api.patch(f"/api/v1/programs/{created['id']}", {"contact": "phone"}).get_json()
    assert changed["contact"] == "phone" and changed["ask_birthday"] is True  # the rest stays
    assert changed["terms_url"] == "https://kava.example/terms"


def test_a_new_program_defaults_to_either_contact_no_birthday_and_no_documents(api: Api) -> None:
    body = new_program(api)
    assert (body["contact"], body["ask_birthday"]) == ("either", False)
    assert (body["terms_url"], body["privacy"], body["privacy_url"]) == (None, "", None)


@pytest.mark.parametrize(("currency", "country"), [
    ("UAH", "UA"), ("PLN", "PL"), ("USD", None), ("EUR", None), ("GBP", None),
])
def test_a_new_programs_country_is_the_one_country_of_its_currency(
    api: Api, currency: str, country: str | None
) -> None:
    assert new_program(api, currency=currency)["country"] == country


def test_a_country_given_is_kept_whatever_the_currency(api: Api) -> None:
    assert new_program(api, currency="EUR", country="DE")["country"] == "DE"
    assert new_program(api, currency="UAH", country=None)["country"] == "UA"


@pytest.mark.parametrize(("field", "value"), [
    ("contact", "sms"), ("contact", ""), ("contact", 1), ("ask_birthday", "yes"),
    ("ask_birthday", 1), ("terms_url", "javascript:alert(1)"), ("privacy_url", "kava.example"),
    ("country", "ZZ"), ("country", "ua"), ("privacy", "a\x00b"), ("privacy", "x" * 20001),
])
def test_bad_join_settings_are_422_naming_the_field_and_change_nothing(
    api: Api, field: str, value: Any
) -> None:
    program = new_program(api, contact="email")
    created = api.post("/api/v1/programs", {"name": "Other", field: value})
    changed = api.patch(f"/api/v1/programs/{program['id']}", {field: value})
    for response in (created, changed):
        assert response.status_code == 422, response.get_json()
        assert [error["field"] for error in response.get_json()["errors"]] == [field]
    assert api.get(f"/api/v1/programs/{program['id']}").get_json() == program
    assert len(api.get("/api/v1/programs").get_json()["programs"]) == 1


def test_the_openapi_description_names_the_join_settings(client: FlaskClient) -> None:
    description = client.get("/api/openapi.json").get_json()
    answer = description["components"]["schemas"]["Program"]["properties"]
    asked = description["components"]["schemas"]["ProgramUpdate"]["properties"]
    for name in ("contact", "ask_birthday", "terms_url", "privacy", "privacy_url", "country"):
        assert name in answer and name in asked
    assert answer["contact"]["enum"] == ["email", "phone", "either", "both"]


def test_a_local_number_is_read_in_the_programs_country_and_stored_in_e164(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api, currency="UAH")
    response = post_join(client, program["slug"], name="Марія", phone="067 123 45 67")
    assert response.status_code == 303
    assert session.scalar(select(Customer.phone)) == "+380671234567"


def test_an_email_only_program_asks_for_the_email_alone_and_requires_it(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api, contact="email")
    page = client.get(f"/join/{program['slug']}?lang=en").text
    assert 'id="phone"' not in page and 'id="email"' in page
    assert re.search(r'<input[^>]*id="email"[^>]*required', page)
    refused = post_join(client, program["slug"], name="Марія", phone="+380671234567")
    assert refused.status_code == 422
    assert 'id="email-error">Enter your email address.<' in refused.text
    assert count_rows(session, Customer) == 0
    api_refused = api.post(f"/api/v1/programs/{program['id']}/cards",
                           {"name": "Марія", "phone": "+380671234567"})
    assert api_refused.status_code == 422
    assert [e["field"] for e in api_refused.get_json()["errors"]] == ["email"]
    assert count_rows(session, Card) == 0


def test_a_program_requiring_both_contacts_says_which_one_is_missing(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api, contact="both", currency="UAH")
    refused = post_join(client, program["slug"], name="Марія", email="maria@example.com")
    assert refused.status_code == 422
    assert 'id="phone-error">Enter your phone number.<' in refused.text
    assert 'value="maria@example.com"' in refused.text
    assert count_rows(session, Customer) == 0
    joined = post_join(client, program["slug"], name="Марія", email="maria@example.com",
                       phone="050 123 4567")
    assert joined.status_code == 303


def test_the_birthday_is_asked_when_the_program_wants_it_and_stored_as_a_date(
    client: FlaskClient, api: Api, session: Session
) -> None:
    quiet = new_program(api)
    assert 'id="birthday"' not in client.get(f"/join/{quiet['slug']}").text
    program = new_program(api, ask_birthday=True, name="Birthday Club")
    page = client.get(f"/join/{program['slug']}?lang=en").text
    assert re.search(r'<input[^>]*id="birthday"[^>]*type="date"', page)
    assert 'id="birthday"' in page and "required" not in page.split('id="birthday"')[0][-200:]
    joined = post_join(client, program["slug"], name="Олена", email="olena@example.com",
                       birthday="1990-05-17")
    assert joined.status_code == 303
    typed = post_join(client, program["slug"], name="Ірина", email="iryna@example.com",
                      birthday="01.02.1985")  # typed by hand where there is no date picker
    assert typed.status_code == 303
    birthdays = dict(session.execute(select(Customer.email, Customer.birthday)).all())
    assert {key: value.isoformat() for key, value in birthdays.items()} == {
        "olena@example.com": "1990-05-17", "iryna@example.com": "1985-02-01"}
    card_id = session.scalar(select(Card.id).order_by(Card.id))
    session.rollback()
    assert api.get(f"/api/v1/cards/{card_id}").get_json()["customer"]["birthday"] == "1990-05-17"


@pytest.mark.parametrize(("typed", "message"), [
    ("2999-01-01", "A birthday cannot be in the future."),
    ("1899-12-31", "Check the year of the birthday."),
    ("17 травня", "Enter the date like 17.05.1990."),
    ("31.02.1990", "Enter the date like 17.05.1990."),
])
def test_a_birthday_that_cannot_be_is_said_at_its_field_and_kept(
    client: FlaskClient, api: Api, session: Session, typed: str, message: str
) -> None:
    program = new_program(api, ask_birthday=True)
    refused = post_join(client, program["slug"], name="Олена", email="olena@example.com",
                        birthday=typed)
    assert refused.status_code == 422
    assert f'id="birthday-error">{message}<' in refused.text
    assert re.search(r'<input[^>]*aria-describedby="birthday-error"'
                     r'[^>]*aria-invalid="true"', refused.text)
    assert f'value="{typed}"' in refused.text
    assert 'value="olena@example.com"' in refused.text
    assert count_rows(session, Customer) == 0


def test_the_api_refuses_a_birthday_in_the_future_or_not_a_date(
    api: Api, session: Session
) -> None:
    program = new_program(api)
    for value in ("2999-01-01", "17.05.1990", 19900517, True):
        response = api.post(f"/api/v1/programs/{program['id']}/cards",
                            {"name": "Олена", "email": "olena@example.com", "birthday": value})
        assert response.status_code == 422, value
        assert [e["field"] for e in response.get_json()["errors"]] == ["birthday"]
    assert count_rows(session, Card) == 0


def test_the_join_form_links_the_terms_and_serves_a_privacy_text_as_its_own_page(
    client: FlaskClient, api: Api
) -> None:
    program = new_program(api, terms_url="https://kava.example/terms",
                          privacy="We keep your name.\nAnd your phone.\n\nAsk us to delete it.")
    page = client.get(f"/join/{program['slug']}?lang=en").text
    assert '<a href="https://kava.example/terms" id="terms-link">' in page
    privacy_path = f"/join/{program['slug']}/privacy?lang=en"
    assert f'<a href="{privacy_path}" id="privacy-link">' in page
    privacy = client.get(privacy_path)
    assert privacy.status_code == 200
    assert "<p>We keep your name.\nAnd your phone.</p>" in privacy.text
    assert "<p>Ask us to delete it.</p>" in privacy.text
    assert client.get(f"/join/{program['slug']}/terms").status_code == 404  # a URL instead


def test_a_program_without_documents_links_none(client: FlaskClient, api: Api) -> None:
    program = new_program(api)
    page = client.get(f"/join/{program['slug']}").text
    assert "terms-link" not in page and "privacy-link" not in page
    assert client.get(f"/join/{program['slug']}/privacy").status_code == 404
    assert client.get(f"/join/{program['slug']}/cookies").status_code == 404


def test_the_marketing_consent_is_unticked_until_the_customer_ticks_it(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api)
    page = client.get(f"/join/{program['slug']}").text
    box = re.search(r'<input[^>]*id="consent"[^>]*>', page)
    assert box is not None and "checked" not in box.group(0)
    post_join(client, program["slug"], name="A", email="a@example.com")
    post_join(client, program["slug"], name="B", email="b@example.com", consent="y")
    consents = dict(session.execute(select(Customer.email, Customer.marketing_consent)).all())
    assert consents == {"a@example.com": False, "b@example.com": True}


def test_every_fault_is_said_at_its_own_field_with_the_values_kept(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api, currency="UAH")
    refused = post_join(client, program["slug"], name="", email="olena@", phone="123",
                        consent="y")
    assert refused.status_code == 422
    page = refused.text
    assert 'id="name-error">Enter your name.<' in page
    assert 'id="email-error">Check the email address: it should look like name@example.com.<' \
        in page
    assert 'id="phone-error">Check the phone number: write it like 050 123 4567.<' in page
    for field in ("name", "email", "phone"):
        assert re.search(rf'<input[^>]*aria-describedby="[^"]*{field}-error"[^>]*'
                         rf'aria-invalid="true"[^>]*id="{field}"', page), field
        assert f'<a href="#{field}">' in page  # the summary leads to the field
    assert 'value="olena@"' in page and 'value="123"' in page
    assert re.search(r'<input checked id="consent"', page)  # the tick is kept too
    assert count_rows(session, Customer) == 0 and count_rows(session, Card) == 0


def test_a_form_with_neither_contact_flags_both_fields(
    client: FlaskClient, api: Api, session: Session
) -> None:
    program = new_program(api)
    refused = post_join(client, program["slug"], name="Nobody")
    assert refused.status_code == 422
    for field in ("email", "phone"):
        assert f'id="{field}-error">Enter an email address or a phone number.<' in refused.text
    assert count_rows(session, Customer) == 0


@pytest.mark.parametrize(("name", "message"), [
    ("   ", "Enter your name."),
    ("A" * 201, "Write at most 200 characters here."),
    ("Olena\x07", "Remove the special characters from this field."),
])
def test_a_name_that_cannot_be_stored_is_said_at_the_name(
    client: FlaskClient, api: Api, session: Session, name: str, message: str
) -> None:
    program = new_program(api)
    refused = post_join(client, program["slug"], name=name, email="olena@example.com")
    assert refused.status_code == 422
    assert f'id="name-error">{message}<' in refused.text
    assert count_rows(session, Customer) == 0
