"""Localization: every pass.json string is a key of every locale's pass.strings, the
labels are the caller's, and a card's offers and next step reach every language."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passes.apple import (
    PassCard,
    PassDesign,
    PassLocation,
    PassPackager,
    SigningIdentity,
    build_pass_json,
    prepare_design,
)
from passes.apple.strings import (
    card_phrases,
    design_phrases,
    extend_strings,
    render_strings,
    strings_keys,
)
from passes.apple.strings import read_strings as library_read_strings
from tests.passes.conftest import design_with, unzip
from tests.passes.sample_labels import SAMPLE_LABELS, sample_labels

MakeDesign = Callable[..., PassDesign]
MakeCard = Callable[..., PassCard]
ReadStrings = Callable[[bytes], dict[str, str]]


def strings_of(design: PassDesign, read_strings: ReadStrings) -> dict[str, dict[str, str]]:
    prepared = prepare_design(design)
    return {
        locale: read_strings(prepared.file(f"{locale}.lproj/pass.strings").data)
        for locale in design.locales
    }


def localizable_texts(document: dict[str, Any]) -> set[str]:
    """Labels, change messages, text values and relevant texts of a pass.json."""
    texts: set[str] = set()
    for group in document["storeCard"].values():
        for field in group:
            texts.update(field[key] for key in ("label", "changeMessage") if key in field)
            if field["key"] in ("how_it_works", "terms", "support"):
                texts.add(field["value"])
    texts.update(location["relevantText"] for location in document.get("locations", []))
    return texts


def test_each_locale_gets_a_utf16_strings_file(design: PassDesign) -> None:
    names = {file.name for file in prepare_design(design).files}
    for locale in ("en", "ru", "uk"):
        assert f"{locale}.lproj/pass.strings" in names
        data = prepare_design(design).file(f"{locale}.lproj/pass.strings").data
        assert data.startswith(b"\xff\xfe")
        data.decode("utf-16")


def test_strings_translate_the_catalog_into_russian_and_ukrainian(
    design: PassDesign, read_strings: ReadStrings
) -> None:
    strings = strings_of(design, read_strings)
    assert strings["en"]["Points"] == "Points"
    assert strings["ru"]["Points"] == "Баллы"
    assert strings["uk"]["Tier"] == "Рівень"
    assert strings["ru"]["Points on your card: %@"] == "Теперь на вашей карте баллов: %@"
    assert strings["uk"]["Your reward is ready: %@"] == "Ваш подарунок чекає на вас: %@"
    assert strings["ru"]["Next tier"] == "Следующий уровень"
    assert strings["uk"]["Recent activity"] == "Останні операції"
    assert strings["uk"]["Card number"] == "Номер картки"
    assert strings["ru"]["Earn 5% back"] == "5% баллами"


def test_every_localizable_pass_json_string_is_a_key_in_the_primary_strings(
    card: PassCard, design: PassDesign, identity: SigningIdentity, read_strings: ReadStrings
) -> None:
    document = build_pass_json(card, design, identity)
    strings = strings_of(design, read_strings)
    assert localizable_texts(document) <= set(strings["en"])
    assert all(key == value for key, value in strings["en"].items())


def test_catalog_strings_are_keys_in_every_locale(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity, read_strings: ReadStrings
) -> None:
    design = make_design(texts={}, locations=(PassLocation(latitude=50.0, longitude=30.0),))
    document = build_pass_json(card, design, identity)
    strings = strings_of(design, read_strings)
    for locale in design.locales:
        assert localizable_texts(document) <= set(strings[locale]), locale


def test_a_missing_translation_is_left_out_so_wallet_shows_the_primary_text(
    design: PassDesign, read_strings: ReadStrings
) -> None:
    strings = strings_of(design, read_strings)
    assert "Points expire after a year." not in strings["ru"]
    assert strings["uk"]["Points expire after a year."] == "Бали згорають за рік."


def test_primary_russian_design_keys_its_strings_in_russian(
    make_design: MakeDesign, read_strings: ReadStrings
) -> None:
    strings = strings_of(make_design(locales=("ru", "en")), read_strings)
    assert strings["en"]["Баллы"] == "Points"
    assert strings["ru"]["Баллы"] == "Баллы"
    assert set(strings) == {"ru", "en"}


@pytest.mark.parametrize(
    "text",
    [
        'She said "hi"',
        "back\\slash and \\n literal",
        "line one\nline two\r\nthree",
        "tab\there",
        "bell\x07 and del\x7f",
        "emoji ☕ and ї",
    ],
)
def test_awkward_texts_survive_the_round_trip(
    make_design: MakeDesign, read_strings: ReadStrings, text: str
) -> None:
    design = make_design(texts={"terms": {"en": text, "ru": f"ru: {text}"}})
    strings = strings_of(design, read_strings)
    assert strings["en"][text] == text
    assert strings["ru"][text] == f"ru: {text}"


def test_the_labels_are_the_callers_in_each_language(
    make_design: MakeDesign, read_strings: ReadStrings
) -> None:
    labels = {**sample_labels(("en", "uk")),
              "uk": dataclasses.replace(SAMPLE_LABELS["uk"], points="Бонуси")}
    strings = strings_of(make_design(locales=("en", "uk"), labels=labels), read_strings)
    assert strings["uk"]["Points"] == "Бонуси"
    assert strings["en"]["Points"] == "Points"


def test_a_design_without_labels_for_one_of_its_languages_is_refused(
    make_design: MakeDesign,
) -> None:
    with pytest.raises(ValueError, match="labels are missing"):
        make_design(locales=("en", "ru", "uk"), labels=sample_labels(("en", "uk")))


def test_a_change_message_without_its_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="%@"):
        dataclasses.replace(SAMPLE_LABELS["ru"], change_balance="Теперь на вашей карте баллов")
    with pytest.raises(ValueError, match="non-empty"):
        dataclasses.replace(SAMPLE_LABELS["uk"], tier=" ")


def test_a_stamps_design_needs_a_sentence_for_each_number_of_stamps_missing(
    make_design: MakeDesign,
) -> None:
    with pytest.raises(ValueError, match="reward_steps"):
        make_design(kind="stamps", stamps_required=3,
                    reward_steps={1: {"en": "1", "ru": "1", "uk": "1"}})
    with pytest.raises(ValueError, match="'uk'"):
        make_design(kind="stamps", stamps_required=1, reward_steps={1: {"en": "1", "ru": "1"}})


def test_offers_are_in_each_locales_strings_in_that_locales_words(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity,
    read_strings: ReadStrings,
) -> None:
    card = make_card(offers=({"en": "Free coffee", "ru": "Кофе в подарок",
                              "uk": "Кава в подарунок"},
                             {"en": "−10% on cakes", "uk": "−10% на торти"}))
    files = unzip(PassPackager(identity).package(card, design))
    document = build_pass_json(card, design, identity)
    front = next(field for field in document["storeCard"]["auxiliaryFields"]
                 if field["key"] == "offers")
    back = next(field for field in document["storeCard"]["backFields"]
                if field["key"] == "offers_now")
    strings = {locale: read_strings(files[f"{locale}.lproj/pass.strings"])
               for locale in design.locales}
    assert front["value"] == "Free coffee, −10% on cakes"
    assert strings["uk"][front["value"]] == "Кава в подарунок, −10% на торти"
    assert strings["ru"][back["value"]] == "Кофе в подарок\n−10% on cakes"  # none in ru
    assert strings["en"][back["value"]] == back["value"]


def test_a_card_without_phrases_of_its_own_shares_its_designs_strings(
    card: PassCard, make_card: MakeCard, design: PassDesign, identity: SigningIdentity,
) -> None:
    plain = unzip(PassPackager(identity).package(make_card(offers=()), design))
    prepared = prepare_design(design)
    assert plain["ru.lproj/pass.strings"] == prepared.file("ru.lproj/pass.strings").data
    offered = unzip(PassPackager(identity).package(card, design))
    assert offered["ru.lproj/pass.strings"] != plain["ru.lproj/pass.strings"]


def test_a_reward_named_per_language_reads_in_each_even_two_of_them(
    make_design: MakeDesign, make_card: MakeCard, identity: SigningIdentity,
    read_strings: ReadStrings,
) -> None:
    design = make_design(kind="stamps", stamps_required=8, reward_text="Free coffee",
                         names={"reward": {"en": "Free coffee", "uk": "Безкоштовна кава"}})
    card = make_card(stamps=0, rewards=2, offers=())
    reward = next(field for field in build_pass_json(card, design, identity)["storeCard"][
        "secondaryFields"] if field["key"] == "reward")
    files = unzip(PassPackager(identity).package(card, design))
    strings = read_strings(files["uk.lproj/pass.strings"])
    assert reward["value"] == "Free coffee × 2"
    assert strings["Free coffee × 2"] == "Безкоштовна кава × 2"
    assert strings["Free coffee"] == "Безкоштовна кава"
    # No Russian name: a Russian phone reads the primary one, as Wallet does without a key.
    assert "Free coffee × 2" not in read_strings(files["ru.lproj/pass.strings"])


def test_relevant_text_is_in_each_locales_strings(
    make_design: MakeDesign, identity: SigningIdentity, card: PassCard,
    read_strings: ReadStrings,
) -> None:
    location = PassLocation(latitude=50.0, longitude=30.0, relevant_texts={
        "en": "Show your card at Podil", "ru": "Покажите карту на кассе · Podil",
        "uk": "Покажіть картку на касі · Podil"})
    design = make_design(locations=(location,))
    text = build_pass_json(card, design, identity)["locations"][0]["relevantText"]
    strings = strings_of(design, read_strings)
    assert text == "Show your card at Podil"
    assert strings["ru"][text] == "Покажите карту на кассе · Podil"
    assert strings["uk"][text] == "Покажіть картку на касі · Podil"


def test_a_stamp_cards_next_step_reaches_every_locale(
    make_design: MakeDesign, make_card: MakeCard,
) -> None:
    design = make_design(kind="stamps", stamps_required=8)
    phrases = card_phrases(make_card(stamps=5, offers=()), design)
    assert phrases == {"value.reward_step": {"en": "3 more stamps to your reward",
                                             "ru": "Ещё штампов до подарка: 3",
                                             "uk": "Ще штампів до подарунка: 3"}}
    assert card_phrases(make_card(stamps=0, rewards=1, offers=()), design) == {}


def test_shared_primary_text_keeps_the_first_translation(read_strings: ReadStrings) -> None:
    phrases = {"a": {"en": "Same", "ru": "Первый"}, "b": {"en": "Same", "ru": "Второй"}}
    files = render_strings(phrases, ("en", "ru"))
    assert read_strings(files["ru.lproj/pass.strings"]) == {"Same": "Первый"}


def test_phrases_follow_the_kind_of_program(make_design: MakeDesign) -> None:
    points = design_phrases(make_design())
    stamps = design_phrases(make_design(kind="stamps", stamps_required=6))
    assert "label.points" in points and "label.stamps" not in points
    assert "label.stamps" in stamps and "label.points" not in stamps
    assert "change.stamps" in stamps and "change.balance" not in stamps


def test_the_reward_text_is_a_phrase_so_a_translation_can_reach_the_phone(
    make_design: MakeDesign, read_strings: ReadStrings
) -> None:
    design = make_design(kind="stamps", stamps_required=8, reward_text="Free coffee")
    assert design_phrases(design)["value.reward"] == {"en": "Free coffee"}
    default = design_phrases(make_design(kind="stamps", stamps_required=8))["value.reward"]
    assert default == {"en": "A reward", "ru": "Подарок", "uk": "Подарунок"}


@given(key=st.text(min_size=1), value=st.text())
def test_any_text_round_trips_through_a_strings_file(
    read_strings: ReadStrings, key: str, value: str
) -> None:
    files = render_strings({"x": {"en": key, "uk": value}}, ("en", "uk"))
    assert read_strings(files["uk.lproj/pass.strings"]) == {key: value}
    assert read_strings(files["en.lproj/pass.strings"]) == {key: key}
    # The library's own reader (the preview's) agrees with this independent one.
    assert library_read_strings(files["uk.lproj/pass.strings"]) == {key: value}


@given(extra=st.dictionaries(st.text(max_size=8), st.dictionaries(
    st.sampled_from(["en", "ru", "uk"]), st.sampled_from(["Points", "Баллы", "x", "y\n"])),
    max_size=4))
def test_a_cards_strings_are_its_designs_with_its_own_phrases_after_them(
    extra: dict[str, dict[str, str]],
) -> None:
    phrases = design_phrases(design_with())
    locales = ("en", "ru", "uk")
    files = render_strings(phrases, locales)
    assert extend_strings(files, strings_keys(phrases, "en"), extra, locales) == \
        render_strings(phrases, locales, extra)
