"""Localization: every pass.json string is a key of every locale's pass.strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passes.apple import (
    PassCard,
    PassDesign,
    PassLocation,
    SigningIdentity,
    build_pass_json,
    prepare_design,
)
from passes.apple.model import SUPPORTED_LOCALES
from passes.apple.strings import CATALOG, design_phrases, render_strings
from passes.apple.strings import read_strings as library_read_strings

MakeDesign = Callable[..., PassDesign]
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


def test_catalog_covers_every_supported_locale_without_collisions() -> None:
    for phrase_id, texts in CATALOG.items():
        assert set(texts) == set(SUPPORTED_LOCALES), phrase_id
        assert all(texts.values()), phrase_id
    for locale in SUPPORTED_LOCALES:
        # A strings key maps once: two catalog phrases with one text in some
        # locale would lose a translation when that locale is primary.
        by_text: dict[str, set[tuple[str, ...]]] = {}
        for texts in CATALOG.values():
            by_text.setdefault(texts[locale], set()).add(
                tuple(texts[other] for other in SUPPORTED_LOCALES)
            )
        assert all(len(variants) == 1 for variants in by_text.values()), locale


def test_shared_primary_text_keeps_the_first_translation(read_strings: ReadStrings) -> None:
    phrases = {"a": {"en": "Same", "ru": "Первый"}, "b": {"en": "Same", "ru": "Второй"}}
    files = render_strings(phrases, ("en", "ru"))
    assert read_strings(files["ru.lproj/pass.strings"]) == {"Same": "Первый"}


def test_phrases_follow_the_kind_of_program(make_design: MakeDesign) -> None:
    points = design_phrases(make_design())
    stamps = design_phrases(make_design(kind="stamps", stamps_required=6))
    assert "label.points" in points and "label.stamps" not in points
    assert "label.stamps" in stamps and "label.points" not in stamps
    assert "label.to_reward" in stamps and "label.to_reward" not in points


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
