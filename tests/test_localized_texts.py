"""A program speaks each language: its name, reward text, tier names and terms, and its
offers' titles and bodies, may be written per language. The API gives them back in the
shape they were sent, refuses what the program's languages cannot carry (naming
``field.<language>``) and changes nothing then; passes, Google cards, pages and mails
show each reader their language's text."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.cards.models import Card, CardRecoveryLink
from app.clock import utcnow
from app.db import make_engine, make_session_factory
from app.delivery.mail import compose_recovery_mail
from app.merchants.models import Program
from app.migrations import downgrade, upgrade
from app.offers.models import Offer
from app.texts import localized, tier_name
from tests.conftest import Api, count_rows
from tests.hostile import assert_problem, snapshot
from tests.test_google_sync import (  # noqa: F401 (fixtures)
    Google,
    google,
    google_certs,
    standin,
    wait_for,
)
from tests.test_registration_tokens import empty_database  # noqa: F401 (a fixture)
from tests.wallet_helpers import pass_field, pass_json, pass_strings

BEAN = {"en": "Bean", "ru": "Зерно"}
BRONZE = {"en": "Bronze", "ru": "Бронза"}
SILVER = {"en": "Silver", "ru": "Серебро"}
REWARD = {"en": "A free coffee", "ru": "Бесплатный кофе"}
TERMS = {"en": "Points have no cash value.", "ru": "Баллы не обмениваются на деньги."}


def bilingual(**changes: Any) -> dict[str, Any]:
    return {"name": BEAN, "currency": "UAH", "earn_percent": 2, "locales": ["en", "ru"],
            "tiers": [{"name": BRONZE, "min_spend": 0, "earn_percent": 2},
                      {"name": SILVER, "min_spend": 100_000, "earn_percent": 3}],
            "reward_text": REWARD, "terms": TERMS, **changes}


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def enrol(api: Api, program: dict[str, Any], locale: str, email: str = "olena@example.com",
          ) -> dict[str, Any]:
    return created(api.post(f"/api/v1/programs/{program['id']}/cards",
                            {"name": "Olena", "email": email, "locale": locale,
                             "marketing_consent": True}))


def local(url: str) -> str:
    return url.removeprefix("https://cards.example.test")


# Which text a reader sees


def test_a_reader_sees_their_language_else_the_first_else_another_of_the_program() -> None:
    texts = {"en": "Bean", "ru": "Зерно"}
    assert localized(texts, "ru", ["en", "ru"]) == "Зерно"
    assert localized(texts, "uk", ["en", "ru"]) == "Bean"  # the program's first
    assert localized(texts, "uk", ["uk", "ru", "en"]) == "Зерно"  # then its others
    assert localized({"ru": "Зерно"}, "en", ["uk"]) == "Зерно"  # then any
    assert localized("Bean", "ru", ["en", "ru"]) == "Bean"  # one string for all
    tiers = [{"key": "gold", "name": {"en": "Gold", "ru": "Золото"}},
             {"name": "Silver", "min_spend": 0}]  # stored before tiers had keys
    assert tier_name(tiers, "gold", "ru", ["en", "ru"]) == "Золото"
    assert tier_name(tiers, "Silver", "ru", ["en", "ru"]) == "Silver"
    assert tier_name(tiers, "renamed", "ru", ["en"]) == "renamed"
    assert tier_name(tiers, None, "ru", ["en"]) is None


# The API: shapes in, the same shapes out


def test_texts_given_per_language_come_back_per_language(api: Api) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    for body in (program, api.get(f"/api/v1/programs/{program['id']}").get_json()):
        assert body["name"] == BEAN
        assert body["reward_text"] == REWARD and body["terms"] == TERMS
        assert [tier["name"] for tier in body["tiers"]] == [BRONZE, SILVER]
        assert [tier["key"] for tier in body["tiers"]] == ["Bronze", "Silver"]
    assert program["slug"] == "bean"  # made from the first language's name


def test_texts_given_as_one_string_come_back_as_one_string(api: Api) -> None:
    program = created(api.post("/api/v1/programs", {
        "name": "Kava", "reward_text": "Tea", "terms": "Be kind", "locales": ["uk", "en"],
        "tiers": [{"name": "Gold", "min_spend": 0, "earn_percent": 1}]}))
    body = api.get(f"/api/v1/programs/{program['id']}").get_json()
    assert (body["name"], body["reward_text"], body["terms"]) == ("Kava", "Tea", "Be kind")
    assert body["tiers"][0]["name"] == "Gold" and body["tiers"][0]["key"] == "Gold"


def test_a_patch_turns_one_string_into_texts_per_language_and_back(
        api: Api, session: Session) -> None:
    program = created(api.post("/api/v1/programs", {"name": "Bean", "locales": ["en", "ru"]}))
    path = f"/api/v1/programs/{program['id']}"
    patched = api.patch(path, {"name": BEAN, "terms": TERMS})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["name"] == BEAN and patched.get_json()["terms"] == TERMS
    back = api.patch(path, {"name": "Bean Bar"}).get_json()
    assert back["name"] == "Bean Bar" and back["terms"] == TERMS
    stored = session.execute(select(Program.name, Program.name_texts)).one()
    session.rollback()
    assert (stored.name, stored.name_texts) == ("Bean Bar", None)


def test_changing_the_first_language_keeps_the_texts_and_the_plain_name_follows_it(
        api: Api, session: Session) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    path = f"/api/v1/programs/{program['id']}"

    def plain_name() -> str:
        session.expire_all()
        name = session.scalar(select(Program.name).where(Program.id == program["id"]))
        session.rollback()  # no transaction left open while the app writes
        return str(name)

    assert plain_name() == "Bean"
    assert api.patch(path, {"locales": ["ru", "en"]}).status_code == 200
    assert api.get(path).get_json()["name"] == BEAN
    assert plain_name() == "Зерно"
    # A language the program drops keeps its text; the rest read as the rule says.
    assert api.patch(path, {"locales": ["uk"]}).status_code == 200
    assert api.get(path).get_json()["name"] == BEAN


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": {"de": "Bohne", "en": "Bean"}}, "name.de"),
    ({"name": {"en": "Bean", "uk": "Зерно"}}, "name.uk"),  # not one of the program's
    ({"name": {"ru": "Зерно"}}, "name.en"),  # the first language is missing
    ({"name": {}}, "name"),
    ({"name": {"en": "", "ru": "Зерно"}}, "name.en"),
    ({"name": {"en": "   ", "ru": "Зерно"}}, "name.en"),
    ({"name": {"en": "Bean", "ru": "Зер\x00но"}}, "name.ru"),
    ({"name": {"en": "Bean", "ru": "Зер\nно"}}, "name.ru"),
    ({"name": {"en": "Bean", "ru": "\ud800"}}, "name.ru"),
    ({"name": {"en": "x" * 121, "ru": "Зерно"}}, "name.en"),
    ({"name": {"en": 5, "ru": "Зерно"}}, "name.en"),
    ({"name": 5}, "name"),
    ({"name": ["Bean"]}, "name"),
    ({"reward_text": {"en": "Tea\x1b", "ru": "Чай"}}, "reward_text.en"),
    ({"terms": {"en": "Kind\x07", "ru": "Добро"}}, "terms.en"),
    ({"terms": {"en": "x" * 4001, "ru": "Добро"}}, "terms.en"),
    ({"terms": {"ru": "Добро"}}, "terms.en"),
    ({"tiers": [{"name": {"en": "Gold", "de": "Gold"}, "min_spend": 0, "earn_percent": 1}]},
     "tiers.0.name.de"),
    ({"tiers": [{"name": {"ru": "Золото"}, "min_spend": 0, "earn_percent": 1}]},
     "tiers.0.name.en"),
    ({"tiers": [{"name": {"en": "x" * 41}, "min_spend": 0, "earn_percent": 1}]},
     "tiers.0.name.en"),
    ({"tiers": [{"name": BRONZE, "min_spend": 0, "earn_percent": 1},
                {"name": {"en": "Gold", "ru": "Бронза"}, "min_spend": 5, "earn_percent": 2}]},
     "tiers.1.name"),  # two tiers one name in Russian
    ({"tiers": [{"name": BRONZE, "min_spend": 0, "earn_percent": 1},
                {"key": "bronze", "name": SILVER, "min_spend": 5, "earn_percent": 2}]},
     "tiers.1.key"),
    ({"tiers": [{"key": "", "name": BRONZE, "min_spend": 0, "earn_percent": 1}]},
     "tiers.0.key"),
])
def test_a_text_the_program_cannot_carry_is_422_naming_its_path_and_writes_nothing(
        api: Api, session: Session, changes: dict[str, Any], field: str) -> None:
    response = api.post("/api/v1/programs", bilingual(**changes))
    problem = assert_problem(response, 422, "invalid")
    assert field in [error["field"] for error in problem["errors"]], problem
    assert count_rows(session, Program) == 0


def test_a_refused_patch_changes_nothing(api: Api, session: Session) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    path = f"/api/v1/programs/{program['id']}"
    before = snapshot(session)
    for body, field in [({"name": {"en": "New", "uk": "Нове"}}, "name.uk"),
                        ({"name": {"ru": "Новое"}}, "name.en"),
                        # Texts sent are checked against the languages sent with them.
                        ({"locales": ["uk"], "name": BEAN}, "name.en"),
                        ({"terms": {"en": "ok", "ru": "\x00"}}, "terms.ru"),
                        ({"tiers": [{"name": {"de": "Gold"}, "min_spend": 0,
                                     "earn_percent": 1}]}, "tiers.0.name.de")]:
        problem = assert_problem(api.patch(path, body), 422, "invalid")
        assert field in [error["field"] for error in problem["errors"]], problem
    assert snapshot(session) == before
    assert api.get(path).get_json()["name"] == BEAN


def test_a_tier_is_known_by_its_key_on_cards_and_in_offers(api: Api) -> None:
    program = created(api.post("/api/v1/programs", bilingual(tiers=[
        {"name": BRONZE, "min_spend": 0, "earn_percent": 2},
        {"key": "vip", "name": {"en": "Very important", "ru": "Очень важный"},
         "min_spend": 100_000, "earn_percent": 3}])))
    assert [tier["key"] for tier in program["tiers"]] == ["Bronze", "vip"]
    card = enrol(api, program, "ru")
    assert card["tier"] == "Bronze"  # the key, whatever language the holder reads
    offers = f"/api/v1/programs/{program['id']}/offers"
    assert api.post(offers, {"title": "Tea", "audience": {"tiers": ["vip"]}}
                    ).status_code == 201
    refused = api.post(offers, {"title": "Tea", "audience": {"tiers": ["Бронза"]}})
    assert assert_problem(refused, 422)["errors"][0]["field"] == "audience.tiers"


def test_offer_texts_per_language_come_back_as_given(api: Api) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    title, body = {"en": "Free tea", "ru": "Чай в подарок"}, {"en": "All week", "ru": "Всю неделю"}
    offer = created(api.post(f"/api/v1/programs/{program['id']}/offers",
                             {"title": title, "body": body}))
    assert offer["title"] == title and offer["body"] == body
    again = api.get(f"/api/v1/offers/{offer['id']}").get_json()
    assert again["title"] == title and again["body"] == body
    plain = created(api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "Tea"}))
    assert plain["title"] == "Tea" and plain["body"] == ""


@pytest.mark.parametrize(("body", "field"), [
    ({"title": {"en": "Tea", "uk": "Чай"}}, "title.uk"),
    ({"title": {"ru": "Чай"}}, "title.en"),
    ({"title": {"en": "x" * 81, "ru": "Чай"}}, "title.en"),
    ({"title": {"en": "Tea", "ru": "Чай\x00"}}, "title.ru"),
    ({"title": {}}, "title"),
    ({"title": "Tea", "body": {"en": "", "ru": "Всю неделю"}}, "body.en"),
    ({"title": "Tea", "body": {"en": "Mon\x0bTue"}}, "body.en"),
    ({"title": "Tea", "body": {"xx": "Mon"}}, "body.xx"),
])
def test_an_offer_text_the_program_cannot_carry_is_422_and_writes_nothing(
        api: Api, session: Session, body: dict[str, Any], field: str) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    problem = assert_problem(api.post(f"/api/v1/programs/{program['id']}/offers", body), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert count_rows(session, Offer) == 0


# The Apple pass


def test_an_english_pass_reads_english_and_its_russian_strings_read_russian(
        api: Api, client: FlaskClient) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    card = enrol(api, program, "en")
    package = client.get(local(card["apple_pass_url"])).data
    document = pass_json(package)
    assert document["logoText"] == "Bean"
    assert document["description"] == "Bean loyalty card"
    store = document["storeCard"]
    tier = pass_field(document, "tier")  # in the header or under the strip, as it fits
    assert tier["value"] == "Bronze"
    back = {field["key"]: field["value"] for field in store["backFields"]}
    rules = back["how_it_works"]
    assert "Bronze: from 0 UAH spent" in rules and "Silver: from 1000 UAH" in rules
    assert "A free coffee" in rules
    assert not re.search("[А-Яа-яЁё]", rules), rules
    assert back["terms"] == TERMS["en"]

    english, russian = pass_strings(package, "en"), pass_strings(package, "ru")
    for shown in ("Bean", "Bronze", rules, TERMS["en"], "Bean loyalty card"):
        assert english[shown] == shown
    assert russian["Bean"] == "Зерно"
    assert russian["Bronze"] == "Бронза" and russian["Silver"] == "Серебро"
    assert russian["Bean loyalty card"] == "Карта лояльности · Зерно"
    assert russian[TERMS["en"]] == TERMS["ru"]
    assert "Бронза: от 0 UAH" in russian[rules] and "Серебро: от 1000 UAH" in russian[rules]
    assert "Бесплатный кофе" in russian[rules]
    assert not re.search(r"\b(Bronze|Silver|A free coffee)\b", russian[rules])


def test_a_russian_first_pass_keys_its_strings_in_russian_and_translates_to_english(
        api: Api, client: FlaskClient) -> None:
    program = created(api.post("/api/v1/programs", bilingual(locales=["ru", "en"])))
    package = client.get(local(enrol(api, program, "ru")["apple_pass_url"])).data
    document = pass_json(package)
    assert document["logoText"] == "Зерно"
    tier = pass_field(document, "tier")
    assert tier["value"] == "Бронза"
    english = pass_strings(package, "en")
    assert english["Зерно"] == "Bean" and english["Бронза"] == "Bronze"


def test_the_offers_on_a_pass_read_in_each_phones_language(
        api: Api, client: FlaskClient) -> None:
    """One pass file for every device of the card: the offer's title in pass.json is the
    program's first language's, and each language's pass.strings turns it into its own,
    whichever language the holder chose."""
    program = created(api.post("/api/v1/programs", bilingual()))
    russian, english = enrol(api, program, "ru"), enrol(api, program, "en", "sam@example.com")
    offer = created(api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": {"en": "Free tea", "ru": "Чай в подарок"}}))
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    for card in (russian, english):
        package = client.get(local(card["apple_pass_url"])).data
        store = pass_json(package)["storeCard"]
        assert store["auxiliaryFields"][0]["value"] == "Free tea"
        back = {field["key"]: field["value"] for field in store["backFields"]}
        assert back["offers_now"] == "Free tea"
        assert pass_strings(package, "ru")["Free tea"] == "Чай в подарок"
        assert pass_strings(package, "en")["Free tea"] == "Free tea"


# Google Wallet


def _translated(localized_string: dict[str, Any]) -> dict[str, str]:
    values = [localized_string["defaultValue"], *localized_string["translatedValues"]]
    return {value["language"]: value["value"] for value in values}


def test_the_google_class_and_objects_carry_each_languages_texts(
        google: Google) -> None:  # noqa: F811 (the fixture imported above)
    program = created(google.api.post("/api/v1/programs", bilingual()))
    card = enrol(google.api, program, "ru")
    object_id = google.object_id(card)
    offer = created(google.api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": {"en": "Free tea", "ru": "Чай в подарок"},
        "body": {"en": "All week", "ru": "Всю неделю"}, "promotional": False}))
    wait_for(lambda: object_id in google.standin.objects)
    google.saved(object_id)
    assert google.api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202

    [klass] = google.standin.classes.values()
    assert klass["programName"] == "Bean"
    assert _translated(klass["localizedProgramName"]) == BEAN
    modules = {module["id"]: module for module in klass["textModulesData"]}
    assert _translated(modules["terms"]["localizedBody"]) == TERMS
    rules = _translated(modules["how_it_works"]["localizedBody"])
    assert "Bronze: from 0 UAH" in rules["en"] and "Бронза: от 0 UAH" in rules["ru"]

    def offer_module() -> dict[str, Any] | None:
        stored = google.standin.objects[object_id]
        return next((module for module in stored.get("textModulesData", [])
                     if module["id"] == f"offer_offer_{offer['id']}"), None)

    module = wait_for(offer_module)
    assert module["header"] == "Чай в подарок" and module["body"] == "Всю неделю"
    assert _translated(module["localizedHeader"]) == {"en": "Free tea", "ru": "Чай в подарок"}
    assert _translated(module["localizedBody"]) == {"en": "All week", "ru": "Всю неделю"}
    stored = google.standin.objects[object_id]
    assert stored["secondaryLoyaltyPoints"]["balance"] == {"string": "Бронза"}
    wait_for(lambda: google.standin.messages(object_id))
    [message] = google.standin.messages(object_id)
    assert (message["header"], message["body"]) == ("Чай в подарок", "Всю неделю")

    assert google.purchase(card, 100_000)["tier"] == "Silver"  # the key
    wait_for(lambda: len(google.standin.messages(object_id)) == 2)
    upgrade_message = google.standin.messages(object_id)[1]
    assert upgrade_message["header"] == "Ваш новый уровень: Серебро"
    assert "Серебро" in upgrade_message["body"] and "Silver" not in upgrade_message["body"]
    wait_for(lambda: google.standin.objects[object_id]["secondaryLoyaltyPoints"]["balance"]
             == {"string": "Серебро"})


# Pages


def test_the_join_page_names_the_program_in_the_pages_language(
        api: Api, client: FlaskClient) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    russian = client.get(f"/join/{program['slug']}?lang=ru").text
    english = client.get(f"/join/{program['slug']}", headers={"Accept-Language": "en"}).text
    assert heading(russian) == "Карта лояльности · Зерно" and "Bean" not in russian
    assert heading(english) == "Join Bean" and "Зерно" not in english


def heading(page: str) -> str:
    """The page's heading as it reads (its spans and no-break spaces aside)."""
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("\u00a0", " ")


def test_the_card_page_names_the_program_and_the_tier_in_the_pages_language(
        api: Api, client: FlaskClient) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    card = enrol(api, program, "ru")
    russian = client.get(local(card["card_url"]) + "?lang=ru").text
    english = client.get(local(card["card_url"]) + "?lang=en").text
    assert "Ваша карта · Зерно" in russian and 'id="tier">Бронза<' in russian
    assert "Your Bean card" in english and 'id="tier">Bronze<' in english


# Mail


def test_the_recovery_mail_names_the_program_in_the_customers_language(
        api: Api, session: Session) -> None:
    program = created(api.post("/api/v1/programs", bilingual()))
    card = session.get(Card, enrol(api, program, "ru")["id"])
    assert card is not None
    session.rollback()
    now = utcnow()
    link = CardRecoveryLink(program=card.program, created_at=now,
                            expires_at=now + timedelta(minutes=30))
    mail = compose_recovery_mail(link, recipient="olena@example.com", locale="ru",
                                 url="https://cards.example.test/r/1.x",
                                 sender_address="no-reply@cards.example.test")
    assert mail["Subject"] == "Ваша карта · Зерно"
    assert "Карта: Зерно\n" in mail.get_content()


# Migration


def test_upgrading_keys_each_stored_tier_by_its_name_and_old_programs_read_as_before(
        empty_database: str) -> None:  # noqa: F811 (the fixture imported above)
    engine = make_engine(empty_database)
    upgrade(engine, "0008")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO merchants (id, name, email, created_at) "
            "VALUES (1, 'Old', 'old@example.com', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO programs (id, merchant_id, slug, name, kind, currency, earn_percent,"
            " point_value, welcome_points, tiers, reward_text, colors, locales,"
            " barcode_format, limits, terms, design_version, created_at, updated_at)"
            " VALUES (1, 1, 'old', 'Old Bean', 'points', 'UAH', 2, 100, 0, :tiers, 'Tea',"
            " '{}', '[\"en\", \"ru\"]', 'qr', '{}', 'Kind', 1, CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP)"),
            {"tiers": '[{"name": "Gold", "min_spend": 0, "earn_percent": "2"}]'})

    upgrade(engine)

    sessions = make_session_factory(engine)
    with sessions() as session:
        program = session.get(Program, 1)
        assert program is not None
        assert program.tiers == [{"key": "Gold", "name": "Gold", "min_spend": 0,
                                  "earn_percent": "2"}]
        assert (program.name_given, program.reward_text_given, program.terms_given) == (
            "Old Bean", "Tea", "Kind")
        program.tiers = [{"key": "Gold", "name": {"en": "Gold", "ru": "Золото"},
                          "min_spend": 0, "earn_percent": "2"}]
        program.name_texts = {"en": "Old Bean", "ru": "Старое зерно"}
        session.commit()
    downgrade(engine, "0008")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT name, tiers FROM programs")).mappings().one()
        columns = list(connection.execute(text("SELECT * FROM programs")).keys())
    engine.dispose()
    tiers = row["tiers"] if isinstance(row["tiers"], list) else json.loads(row["tiers"])
    assert row["name"] == "Old Bean" and tiers[0]["name"] == "Gold" and "key" not in tiers[0]
    assert "name_texts" not in columns
