"""Every word a pass says of its own comes from the gettext catalogs, in each language of
the program: the labels and change messages in each ``pass.strings`` are the ``.po``
files' translations, the offers' titles and each location's lock-screen text reach every
language's strings, and a stamp card's way to its reward is a sentence with the right
plural form (1, 2, 5, 11, 21, 22) on the pass, the Google object and the card page."""

from __future__ import annotations

import dataclasses
import uuid
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from flask.testing import FlaskClient

from app.merchants.models import Program
from app.wallet.labels import label_set, pass_labels, reward_step_text, reward_steps
from passes.google import GoogleCard, GoogleProgram, object_patch
from tests.conftest import Api
from tests.test_i18n_catalogs import read_catalog
from tests.wallet_helpers import pass_field, pass_json, pass_strings

LABEL_NAMES = tuple(field.name for field in dataclasses.fields(pass_labels("en")))
# What a pass of each kind carries of the labels (the rest are Google's, or defaults that
# a program's own texts replace).
APPLE_LABELS = {
    "points": ("points", "change_balance"),
    "stamps": ("stamps", "change_stamps", "reward_default"),
}
APPLE_COMMON = ("tier", "member", "card_number", "reward", "next_tier", "history", "offers",
                "offers_now", "no_offers", "how_it_works", "customer_page", "change_reward",
                "change_tier")


@cache
def catalog(locale: str) -> Catalog:
    return read_catalog(locale)


def translation(msgid: str, locale: str) -> str:
    """The .po file's translation of ``msgid``; fails when there is none."""
    message = catalog(locale).get(msgid)
    assert message is not None, f"{msgid!r} is not in the {locale} catalog"
    assert isinstance(message.string, str) and message.string, \
        f"{msgid!r} has no {locale} translation"
    return message.string


def enrol(api: Api, program: dict[str, Any], locale: str) -> dict[str, Any]:
    card: dict[str, Any] = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Олена Коваленко", "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "locale": locale, "marketing_consent": True}).get_json()
    return card


def package_of(api: Api, client: FlaskClient, card: dict[str, Any],
               purchases: int = 0) -> bytes:
    for _ in range(purchases):
        bought = api.post("/api/v1/pos/purchases",
                          {"barcode": card["barcode"]["message"], "amount": 5_000},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
        assert bought.status_code == 201, bought.get_json()
    response = client.get(urlsplit(card["apple_pass_url"]).path)
    assert response.status_code == 200
    return response.data


@pytest.mark.parametrize("locale", ["ru", "uk"])
def test_each_label_is_the_catalogs_translation(locale: str) -> None:
    english, translated = pass_labels("en"), pass_labels(locale)
    for name in LABEL_NAMES:
        msgid = getattr(english, name)
        assert getattr(translated, name) == translation(msgid, locale), name


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["points", "stamps"])
@pytest.mark.parametrize("locales", [["en", "ru", "uk"], ["uk", "ru", "en"]])
def test_a_pass_carries_each_label_from_the_catalog_in_each_languages_strings(
        api: Api, client: FlaskClient, kind: str, locales: list[str]) -> None:
    body: dict[str, Any] = {"name": "Bean", "currency": "UAH", "locales": locales, "kind": kind}
    if kind == "stamps":
        body["stamps_required"] = 6
    program = api.post("/api/v1/programs", body).get_json()
    package = package_of(api, client, enrol(api, program, locales[1]), purchases=1)
    primary = pass_labels(locales[0])
    for locale in locales:
        strings = pass_strings(package, locale)
        for name in (*APPLE_LABELS[kind], *APPLE_COMMON):
            msgid = getattr(pass_labels("en"), name)
            expected = msgid if locale == "en" else translation(msgid, locale)
            assert strings[getattr(primary, name)] == expected, (locale, name)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_offers_and_the_lock_screen_texts_are_in_each_languages_strings(
        api: Api, client: FlaskClient) -> None:
    program = api.post("/api/v1/programs", {
        "name": "Bean", "currency": "UAH", "locales": ["en", "ru", "uk"]}).get_json()
    located = api.post(f"/api/v1/programs/{program['id']}/locations", {
        "name": "Podil", "address": "Sahaidachnoho 1", "latitude": 50.46, "longitude": 30.52})
    assert located.status_code == 201, located.get_json()
    card = enrol(api, program, "uk")
    titles = {"en": "Free tea", "ru": "Чай в подарок", "uk": "Чай у подарунок"}
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": titles}).get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    package = package_of(api, client, card)
    document = pass_json(package)
    relevant = document["locations"][0]["relevantText"]
    assert relevant == "Show your card at Podil"
    assert pass_field(document, "offers_now")["value"] == "Free tea"
    lock_screen = {"en": "Show your card at Podil",
                   "ru": translation("Show your card at %(name)s", "ru") % {"name": "Podil"},
                   "uk": translation("Show your card at %(name)s", "uk") % {"name": "Podil"}}
    for locale in ("en", "ru", "uk"):
        strings = pass_strings(package, locale)
        assert strings["Free tea"] == titles[locale]
        assert strings[relevant] == lock_screen[locale]
    assert lock_screen["uk"] != lock_screen["en"] != lock_screen["ru"]


SENTENCES = {
    "ru": {1: "Ещё 1 штамп до подарка: Кофе", 2: "Ещё 2 штампа до подарка: Кофе",
           5: "Ещё 5 штампов до подарка: Кофе", 11: "Ещё 11 штампов до подарка: Кофе",
           21: "Ещё 21 штамп до подарка: Кофе", 22: "Ещё 22 штампа до подарка: Кофе"},
    "uk": {1: "Ще 1 штамп до подарунка: Кава", 2: "Ще 2 штампи до подарунка: Кава",
           5: "Ще 5 штампів до подарунка: Кава", 11: "Ще 11 штампів до подарунка: Кава",
           21: "Ще 21 штамп до подарунка: Кава", 22: "Ще 22 штампи до подарунка: Кава"},
    "en": {1: "1 more stamp to your reward: Coffee", 2: "2 more stamps to your reward: Coffee",
           21: "21 more stamps to your reward: Coffee"},
}
UNNAMED = {"ru": {1: "Ещё 1 штамп до подарка", 22: "Ещё 22 штампа до подарка",
                  5: "Ещё 5 штампов до подарка"},
           "uk": {21: "Ще 21 штамп до подарунка", 2: "Ще 2 штампи до подарунка",
                  11: "Ще 11 штампів до подарунка"}}


def stamp_program(reward: str | dict[str, str]) -> Program:
    program = Program(name="Bean", kind="stamps", stamps_required=25,
                      locales=["en", "ru", "uk"], reward_text="")
    if isinstance(reward, dict):
        program.reward_texts = reward
    else:
        program.reward_text = reward
    return program


@pytest.mark.parametrize("locale", ["ru", "uk", "en"])
def test_the_way_to_a_reward_is_a_sentence_with_the_right_plural(locale: str) -> None:
    program = stamp_program({"en": "Coffee", "ru": "Кофе", "uk": "Кава"})
    for missing, sentence in SENTENCES[locale].items():
        assert reward_step_text(program, missing, locale) == sentence


@pytest.mark.parametrize("locale", ["ru", "uk"])
def test_without_a_named_reward_the_sentence_names_none(locale: str) -> None:
    program = stamp_program("")
    for missing, sentence in UNNAMED[locale].items():
        assert reward_step_text(program, missing, locale) == sentence


def test_the_google_object_says_the_same_sentence_in_every_language() -> None:
    program = stamp_program({"en": "Coffee", "ru": "Кофе", "uk": "Кава"})
    locales = ("en", "ru", "uk")
    google = GoogleProgram(issuer_id="3388000000012345678", class_suffix="bean",
                           issuer_name="Bean", program_name="Bean",
                           logo_url="https://cards.example.test/logo.png",
                           background_color="#112233", locales=locales, kind="stamps",
                           stamps_required=25, labels=label_set(locales),
                           reward_steps=reward_steps(program, locales))
    card = GoogleCard(object_suffix="card-1", card_number="1234", barcode_message="x",
                      holder_name="", balance=0, tier=None, stamps=3, blocked=False,
                      customer_url="https://cards.example.test/c/1", locale="ru")
    step = object_patch(google, card)["textModulesData"][0]
    assert step["body"] == SENTENCES["ru"][22]
    translated = {item["language"]: item["value"]
                  for item in step["localizedBody"]["translatedValues"]}
    assert step["localizedBody"]["defaultValue"]["value"] == \
        "22 more stamps to your reward: Coffee"
    assert translated == {"ru": SENTENCES["ru"][22], "uk": SENTENCES["uk"][22]}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_stamp_pass_and_the_card_page_say_how_far_the_reward_is_in_each_language(
        api: Api, client: FlaskClient) -> None:
    program = api.post("/api/v1/programs", {
        "name": "Bean", "currency": "UAH", "locales": ["uk", "ru", "en"], "kind": "stamps",
        "stamps_required": 8, "reward_text": {"uk": "Кава", "ru": "Кофе", "en": "Coffee"},
    }).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Іван", "email": "ivan@example.com", "locale": "ru"}).get_json()
    for _ in range(3):
        api.post("/api/v1/pos/purchases", {"barcode": card["barcode"]["message"],
                                           "amount": 5_000},
                 headers={"Idempotency-Key": uuid.uuid4().hex})
    package = client.get(urlsplit(card["apple_pass_url"]).path).data
    # The pass names the reward in the field's label, the sentence says how far it is.
    step = pass_field(pass_json(package), "reward")
    assert (step["label"], step["value"]) == ("Кава", "Ще 5 штампів до подарунка")
    russian, english = pass_strings(package, "ru"), pass_strings(package, "en")
    assert (russian["Кава"], russian[step["value"]]) == ("Кофе", "Ещё 5 штампов до подарка")
    assert (english["Кава"], english[step["value"]]) == ("Coffee", "5 more stamps to your reward")
    page = client.get(urlsplit(card["card_url"]).path).get_data(as_text=True)
    assert "Ещё 5 штампов до подарка: Кофе" in page
