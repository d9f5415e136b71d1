"""LoyaltyClass and LoyaltyObject bodies, field by field, and the checks on their inputs."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from passes.google import (
    GoogleCard,
    GoogleOffer,
    GoogleProgram,
    check_google_id,
    loyalty_class,
    loyalty_object,
    message,
    object_id,
    object_patch,
)
from tests.passes.sample_labels import sample_labels, sample_steps

ISSUER_ID = "3388000000022195123"
GOOGLE_ID_PATTERN = re.compile(r"^\d+\.[\w.-]+$", re.ASCII)


def program_with(**changes: Any) -> GoogleProgram:
    values: dict[str, Any] = {
        "issuer_id": ISSUER_ID,
        "class_suffix": "loyalpass.program-42",
        "issuer_name": "Romashka Café",
        "program_name": "Romashka Club",
        "logo_url": "https://loyalpass.example/programs/42/logo.png",
        "background_color": "#1E3A5F",
        "locales": ("en", "ru", "uk"),
        "program_name_translations": {"ru": "Клуб Ромашка", "uk": "Клуб Ромашка"},
        "issuer_name_translations": {"uk": "Кав'ярня Ромашка"},
        "texts": {
            "terms": {"en": "Points expire after a year.", "uk": "Бали згорають за рік."},
            "how_it_works": {"en": "Earn 5% back", "ru": "5% баллами", "uk": "5% балами"},
        },
    }
    values.update(changes)
    values.setdefault("labels", sample_labels(values["locales"]))
    if values.get("kind") == "stamps":
        values.setdefault("reward_steps", sample_steps(values["stamps_required"],
                                                       values["locales"]))
    return GoogleProgram(**values)


def stamps_program(**changes: Any) -> GoogleProgram:
    return program_with(kind="stamps", stamps_required=10, **changes)


def card_with(**changes: Any) -> GoogleCard:
    values: dict[str, Any] = {
        "object_suffix": "8f2c3b1e-card-0001",
        "card_number": "4821 0000 1234",
        "barcode_message": "LP1:482100001234:sig",
        "holder_name": "Олена Петренко",
        "balance": 120,
        "tier": "Gold",
        "stamps": 3,
        "blocked": False,
        "customer_url": "https://loyalpass.example/c/abc?x=1&y=2",
        "offers": (
            GoogleOffer(id="17", title="Free coffee", body="With any cake until Sunday"),
            GoogleOffer(id="18", body="−10% on cakes"),
        ),
    }
    values.update(changes)
    return GoogleCard(**values)


def translations(localized: dict[str, Any]) -> dict[str, str]:
    """A LocalizedString flattened to {language: value}, the default included."""
    values = {localized["defaultValue"]["language"]: localized["defaultValue"]["value"]}
    values.update({item["language"]: item["value"] for item in localized["translatedValues"]})
    return values


# --- the class ---------------------------------------------------------------


def test_class_id_is_the_issuer_id_dot_the_class_suffix() -> None:
    program = program_with()
    assert program.class_id == f"{ISSUER_ID}.loyalpass.program-42"
    assert loyalty_class(program)["id"] == program.class_id
    assert GOOGLE_ID_PATTERN.match(program.class_id)


def test_class_carries_names_logo_and_colour_and_asks_for_review() -> None:
    body = loyalty_class(program_with())
    assert body["issuerName"] == "Romashka Café"
    assert body["programName"] == "Romashka Club"
    assert body["programLogo"]["sourceUri"] == {
        "uri": "https://loyalpass.example/programs/42/logo.png"
    }
    assert body["programLogo"]["contentDescription"]["defaultValue"]["value"] == "Romashka Club"
    assert body["hexBackgroundColor"] == "#1e3a5f"
    assert body["reviewStatus"] == "UNDER_REVIEW"
    json.dumps(body)


def test_class_names_are_localized_with_the_first_locale_as_default() -> None:
    body = loyalty_class(program_with())
    program_name = body["localizedProgramName"]
    assert program_name["defaultValue"] == {"language": "en", "value": "Romashka Club"}
    assert translations(program_name) == {
        "en": "Romashka Club",
        "ru": "Клуб Ромашка",
        "uk": "Клуб Ромашка",
    }
    issuer_name = body["localizedIssuerName"]
    assert translations(issuer_name) == {"en": "Romashka Café", "uk": "Кав'ярня Ромашка"}


def test_a_program_with_one_locale_still_sends_an_empty_translation_list() -> None:
    body = loyalty_class(
        program_with(
            locales=("uk",), program_name_translations={}, texts={}, issuer_name_translations={}
        )
    )
    assert body["localizedProgramName"] == {
        "defaultValue": {"language": "uk", "value": "Romashka Club"},
        "translatedValues": [],
    }
    assert body["textModulesData"] == []


def test_translations_in_a_locale_the_program_does_not_list_are_not_sent() -> None:
    body = loyalty_class(program_with(locales=("en", "uk")))
    assert translations(body["localizedProgramName"]) == {
        "en": "Romashka Club",
        "uk": "Клуб Ромашка",
    }
    how_it_works = body["textModulesData"][0]["localizedBody"]
    assert translations(how_it_works) == {"en": "Earn 5% back", "uk": "5% балами"}


def test_class_has_hero_image_callback_and_country_only_when_given() -> None:
    bare = loyalty_class(program_with())
    assert "heroImage" not in bare and "callbackOptions" not in bare and "countryCode" not in bare
    full = loyalty_class(
        program_with(
            hero_image_url="https://loyalpass.example/programs/42/hero.png",
            callback_url="https://loyalpass.example/google/callbacks",
            country_code="UA",
        )
    )
    assert full["heroImage"]["sourceUri"]["uri"] == "https://loyalpass.example/programs/42/hero.png"
    assert full["callbackOptions"] == {"url": "https://loyalpass.example/google/callbacks"}
    assert full["countryCode"] == "UA"


def test_program_texts_become_class_text_modules_in_a_fixed_order() -> None:
    modules = loyalty_class(program_with())["textModulesData"]
    assert [module["id"] for module in modules] == ["how_it_works", "terms"]
    terms = modules[1]
    assert terms["header"] == "Terms"
    assert translations(terms["localizedHeader"]) == {"en": "Terms", "ru": "Условия", "uk": "Умови"}
    assert terms["body"] == "Points expire after a year."
    assert translations(terms["localizedBody"]) == {
        "en": "Points expire after a year.",
        "uk": "Бали згорають за рік.",
    }


def test_a_text_missing_in_the_primary_locale_borrows_another_locales() -> None:
    body = loyalty_class(program_with(locales=("ru", "uk", "en")))
    terms = body["textModulesData"][1]
    assert terms["body"] == "Бали згорають за рік."
    assert translations(terms["localizedBody"]) == {
        "ru": "Бали згорають за рік.",
        "uk": "Бали згорають за рік.",
        "en": "Points expire after a year.",
    }


def test_blank_texts_make_no_module() -> None:
    body = loyalty_class(program_with(texts={"support": {"en": " ", "uk": ""}}))
    assert body["textModulesData"] == []


def test_account_labels_are_localized_on_the_class() -> None:
    body = loyalty_class(program_with(locales=("ru", "en")))
    assert body["accountIdLabel"] == "Номер карты"
    assert translations(body["localizedAccountIdLabel"]) == {
        "ru": "Номер карты",
        "en": "Card number",
    }
    assert body["localizedAccountNameLabel"]["defaultValue"] == {
        "language": "ru",
        "value": "Участник",
    }


# --- the object --------------------------------------------------------------


def test_object_id_is_the_issuer_id_dot_the_serial_number_in_the_programs_class() -> None:
    program, card = program_with(), card_with()
    body = loyalty_object(program, card)
    assert body["id"] == object_id(program, card) == f"{ISSUER_ID}.8f2c3b1e-card-0001"
    assert body["classId"] == program.class_id
    assert GOOGLE_ID_PATTERN.match(body["id"])


def test_object_names_the_holder_and_the_card_number() -> None:
    body = loyalty_object(program_with(), card_with())
    assert body["accountName"] == "Олена Петренко"
    assert body["accountId"] == "4821 0000 1234"
    assert "accountName" not in loyalty_object(program_with(), card_with(holder_name=""))


def test_points_program_shows_the_balance_as_an_integer() -> None:
    points = loyalty_object(program_with(), card_with(balance=120))["loyaltyPoints"]
    assert points["balance"] == {"int": 120}
    assert points["label"] == "Points"
    assert translations(points["localizedLabel"]) == {"en": "Points", "ru": "Баллы", "uk": "Бали"}


def test_stamps_program_shows_stamps_collected_out_of_those_required() -> None:
    points = loyalty_object(stamps_program(), card_with(stamps=3))["loyaltyPoints"]
    assert points["balance"] == {"string": "3/10"}
    assert translations(points["localizedLabel"]) == {
        "en": "Stamps",
        "ru": "Штампы",
        "uk": "Штампи",
    }


def test_tier_is_shown_as_secondary_points_and_left_out_without_one() -> None:
    secondary = loyalty_object(program_with(), card_with(tier="Gold"))["secondaryLoyaltyPoints"]
    assert secondary["balance"] == {"string": "Gold"}
    assert translations(secondary["localizedLabel"]) == {
        "en": "Tier",
        "ru": "Уровень",
        "uk": "Рівень",
    }
    assert "secondaryLoyaltyPoints" not in loyalty_object(program_with(), card_with(tier=None))


def test_a_stamp_card_says_in_every_language_how_many_stamps_are_still_missing() -> None:
    body = loyalty_object(stamps_program(), card_with(stamps=3, tier=None, locale="uk"))
    assert "secondaryLoyaltyPoints" not in body  # nothing waits beside the stamps yet
    step = body["textModulesData"][0]
    assert step["id"] == "reward"
    assert step["header"] == "Ваш подарунок"
    assert step["body"] == "Ще штампів до подарунка: 7"
    assert translations(step["localizedBody"]) == {
        "en": "7 more stamps to your reward", "ru": "Ещё штампов до подарка: 7",
        "uk": "Ще штампів до подарунка: 7"}
    earned = object_patch(stamps_program(), card_with(stamps=0, rewards=1, tier=None))
    assert all(module["id"] != "reward" for module in earned["textModulesData"])


def test_a_program_without_labels_for_one_of_its_languages_is_refused() -> None:
    with pytest.raises(ValueError, match="labels are missing"):
        program_with(labels=sample_labels(("en", "ru")))
    with pytest.raises(ValueError, match="reward_steps"):
        stamps_program(reward_steps={})


def test_an_earned_reward_takes_that_place_and_counts_beyond_one() -> None:
    program = stamps_program(reward_text="Free coffee")
    one = object_patch(program, card_with(stamps=0, rewards=1, tier=None))
    assert one["secondaryLoyaltyPoints"]["balance"] == {"string": "Free coffee"}
    assert one["secondaryLoyaltyPoints"]["label"] == "Your reward"
    two = object_patch(program, card_with(stamps=0, rewards=2, tier=None))
    assert two["secondaryLoyaltyPoints"]["balance"] == {"string": "Free coffee × 2"}
    default = object_patch(stamps_program(), card_with(rewards=1, tier=None, locale="uk"))
    assert default["secondaryLoyaltyPoints"]["balance"] == {"string": "Подарунок"}


def test_beside_a_tier_the_reward_next_tier_and_movements_are_text_modules() -> None:
    card = card_with(tier="Silver", rewards=1, next_step="Spend 1,200 UAH more for Gold",
                     history=("4 Dec · Purchase · +12", "1 Dec · Welcome bonus · +50"),
                     offers=())
    patch = object_patch(program_with(reward_text="Free coffee"), card)
    assert patch["secondaryLoyaltyPoints"]["balance"] == {"string": "Silver"}
    modules = {module["id"]: module for module in patch["textModulesData"]}
    assert modules["reward"]["body"] == "Free coffee"
    assert modules["next_tier"]["body"] == "Spend 1,200 UAH more for Gold"
    assert modules["next_tier"]["header"] == "Next tier"
    assert modules["history"]["body"] == "4 Dec · Purchase · +12\n1 Dec · Welcome bonus · +50"
    assert list(modules) == ["reward", "next_tier", "history"]


def test_an_active_card_is_active_and_a_blocked_one_inactive() -> None:
    assert loyalty_object(program_with(), card_with(blocked=False))["state"] == "ACTIVE"
    assert loyalty_object(program_with(), card_with(blocked=True))["state"] == "INACTIVE"


@pytest.mark.parametrize(
    ("barcode_format", "barcode_type"),
    [("qr", "QR_CODE"), ("pdf417", "PDF_417"), ("aztec", "AZTEC"), ("code128", "CODE_128")],
)
def test_barcode_carries_the_apple_message_and_the_card_number_as_text(
    barcode_format: str, barcode_type: str
) -> None:
    body = loyalty_object(program_with(barcode_format=barcode_format), card_with())
    assert body["barcode"] == {
        "type": barcode_type,
        "value": "LP1:482100001234:sig",
        "alternateText": "4821 0000 1234",
    }


def test_links_module_leads_to_the_customers_page() -> None:
    uris = loyalty_object(program_with(), card_with())["linksModuleData"]["uris"]
    assert uris == [
        {
            "id": "customer_page",
            "uri": "https://loyalpass.example/c/abc?x=1&y=2",
            "description": "My card",
            "localizedDescription": {
                "defaultValue": {"language": "en", "value": "My card"},
                "translatedValues": [
                    {"language": "ru", "value": "Моя карта"},
                    {"language": "uk", "value": "Моя картка"},
                ],
            },
        }
    ]


def test_offers_become_text_modules_with_stable_ids() -> None:
    modules = loyalty_object(program_with(), card_with())["textModulesData"]
    assert modules[0] == {
        "id": "offer_17",
        "header": "Free coffee",
        "body": "With any cake until Sunday",
    }
    assert modules[1]["id"] == "offer_18"
    assert modules[1]["body"] == "−10% on cakes"
    again = loyalty_object(program_with(), card_with(balance=5))["textModulesData"]
    assert [module["id"] for module in again] == ["offer_17", "offer_18"]


def test_an_offer_without_title_is_headed_with_the_localized_word_offer() -> None:
    module = loyalty_object(program_with(), card_with())["textModulesData"][1]
    assert module["header"] == "Offer"
    assert translations(module["localizedHeader"]) == {
        "en": "Offer",
        "ru": "Предложение",
        "uk": "Пропозиція",
    }


def test_a_card_without_offers_sends_an_empty_list_so_old_offers_are_removed() -> None:
    card = card_with(offers=())
    assert loyalty_object(program_with(), card)["textModulesData"] == []
    assert object_patch(program_with(), card)["textModulesData"] == []


@pytest.mark.parametrize("locales", [("en", "ru", "uk"), ("ru", "uk", "en"), ("uk", "en")])
def test_every_label_is_translated_with_the_programs_first_locale_as_default(
    locales: tuple[str, ...],
) -> None:
    body = loyalty_object(
        program_with(
            locales=locales, texts={}, program_name_translations={}, issuer_name_translations={}
        ),
        card_with(),
    )
    for localized in (
        body["loyaltyPoints"]["localizedLabel"],
        body["secondaryLoyaltyPoints"]["localizedLabel"],
        body["textModulesData"][1]["localizedHeader"],
        body["linksModuleData"]["uris"][0]["localizedDescription"],
    ):
        assert localized["defaultValue"]["language"] == locales[0]
        assert [item["language"] for item in localized["translatedValues"]] == list(locales[1:])


def test_plain_labels_speak_the_holders_language_when_known() -> None:
    body = loyalty_object(program_with(), card_with(locale="uk"))
    assert body["loyaltyPoints"]["label"] == "Бали"
    assert body["secondaryLoyaltyPoints"]["label"] == "Рівень"
    assert body["linksModuleData"]["uris"][0]["description"] == "Моя картка"
    assert body["loyaltyPoints"]["localizedLabel"]["defaultValue"]["language"] == "en"


# --- the patch and messages ---------------------------------------------------


def test_patch_holds_exactly_the_fields_that_follow_the_card() -> None:
    patch = object_patch(program_with(), card_with())
    assert set(patch) == {"accountName", "barcode", "linksModuleData", "state", "loyaltyPoints",
                          "secondaryLoyaltyPoints", "textModulesData"}
    full = loyalty_object(program_with(), card_with())
    assert all(full[name] == value for name, value in patch.items())


def test_patch_carries_the_holders_name_now_and_clears_an_erased_one() -> None:
    renamed = object_patch(program_with(), card_with(holder_name="Олена Коваль"))
    erased = object_patch(program_with(), card_with(holder_name=""))
    assert renamed["accountName"] == "Олена Коваль"
    assert erased["accountName"] == ""  # present: Google clears the name it had


def test_patch_carries_the_barcode_and_link_signed_now() -> None:
    patch = object_patch(program_with(), card_with(
        barcode_message="LP1.rotated-key-mac", customer_url="https://loyalpass.example/c/new.mac"))
    assert patch["barcode"]["value"] == "LP1.rotated-key-mac"
    assert "https://loyalpass.example/c/new.mac" in json.dumps(patch["linksModuleData"])


def test_patch_deletes_a_lost_tier_with_null() -> None:
    patch = object_patch(program_with(), card_with(tier=None))
    assert "secondaryLoyaltyPoints" in patch and patch["secondaryLoyaltyPoints"] is None
    assert json.loads(json.dumps(patch))["secondaryLoyaltyPoints"] is None


def test_message_notifies_the_holder_by_default() -> None:
    assert message("purchase-981", "Thank you!", "You earned 12 points") == {
        "message": {
            "id": "purchase-981",
            "header": "Thank you!",
            "body": "You earned 12 points",
            "messageType": "TEXT_AND_NOTIFY",
        }
    }


def test_message_without_notification_is_plain_text() -> None:
    assert message("m1", "Hello", "Body", notify=False)["message"]["messageType"] == "TEXT"


def test_message_translations_become_localized_header_and_body() -> None:
    body = message(
        "m2", "Gift", "A free coffee", language="en", translations={"uk": ("Подарунок", "Кава")}
    )["message"]
    assert translations(body["localizedHeader"]) == {"en": "Gift", "uk": "Подарунок"}
    assert translations(body["localizedBody"]) == {"en": "A free coffee", "uk": "Кава"}
    with pytest.raises(ValueError):
        message("m3", "Gift", "Coffee", translations={"uk": ("Подарунок", "Кава")})


@pytest.mark.parametrize(("header", "body"), [("", "body"), ("header", " ")])
def test_message_needs_a_header_and_a_body(header: str, body: str) -> None:
    with pytest.raises(ValueError):
        message("m4", header, body)


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"background_color": "red"},
        {"background_color": "#12345"},
        {"background_color": "#12345G"},
        {"issuer_id": "abc"},
        {"issuer_id": "338800000002219512a"},
        {"issuer_id": ""},
        {"class_suffix": "program 42"},
        {"class_suffix": "prögram"},
        {"class_suffix": ""},
        {"locales": ("en", "de")},
        {"locales": ("en", "en")},
        {"locales": ()},
        {"kind": "cashback"},
        {"kind": "stamps", "stamps_required": None},
        {"kind": "stamps", "stamps_required": 0},
        {"kind": "stamps", "stamps_required": True},
        {"barcode_format": "ean13"},
        {"logo_url": "ftp://loyalpass.example/logo.png"},
        {"logo_url": "logo.png"},
        {"hero_image_url": "javascript:alert(1)"},
        {"callback_url": "http://loyalpass.example/google/callbacks"},
        {"country_code": "ua"},
        {"issuer_name": " "},
        {"program_name": ""},
        {"texts": {"faq": {"en": "?"}}},
        {"texts": {"terms": {"de": "Bedingungen", "en": "Terms"}}},
        {"program_name_translations": {"de": "Kamille"}},
    ],
)
def test_a_bad_program_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        program_with(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"balance": True},
        {"balance": "120"},
        {"balance": 12.0},
        {"balance": -1},
        {"balance": 2**31},
        {"stamps": False},
        {"stamps": -1},
        {"rewards": -1},
        {"rewards": True},
        {"object_suffix": "card 0001"},
        {"object_suffix": "card/0001"},
        {"locale": "de"},
        {"blocked": "yes"},
        {"tier": ""},
        {"card_number": ""},
        {"barcode_message": ""},
        {"customer_url": "/c/abc"},
        {"offers": (GoogleOffer(id="1", title="a"), GoogleOffer(id="1", title="b"))},
        {"offers": (("Free coffee", "With cake"),)},
    ],
)
def test_a_bad_card_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        card_with(**changes)


@pytest.mark.parametrize(
    "changes", [{"id": "offer.1"}, {"id": "offer 1"}, {"id": ""}, {"title": "", "body": " "}]
)
def test_a_bad_offer_is_refused(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {"id": "1", "title": "Free coffee", "body": ""}
    values.update(changes)
    with pytest.raises(ValueError):
        GoogleOffer(**values)


@pytest.mark.parametrize(
    "value", ["1.a b", "x.y", "1.", ".abc", "1", "1.ab/c", "١٢.abc", "1.ünï", " 1.abc"]
)
def test_ids_outside_googles_pattern_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_google_id("id", value)


def test_values_are_frozen_and_their_mappings_copied() -> None:
    texts = {"terms": {"en": "Terms v1"}}
    program = program_with(texts=texts)
    texts["terms"]["en"] = "changed"
    assert program.texts["terms"]["en"] == "Terms v1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.issuer_id = "1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        program.texts["terms"]["en"] = "changed"  # type: ignore[index]
