"""The catalogs: every sentence in the code and templates is translated into Russian and
Ukrainian, and counted words take the form Babel's plural rules give them.

The msgids are extracted with Babel's own extractor and ``babel.cfg`` (as ``pybabel
extract`` does), and compared with the ``.po`` files in the repository.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from app.i18n import TRANSLATIONS_DIR, ngettext, translations, using_locale

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED = ("ru", "uk")
# As the README's `pybabel extract -k lazy_gettext -k lazy_ngettext:1,2`.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

Msgid = str | tuple[str, str]


def extracted() -> dict[str, Msgid]:
    """Every msgid of the code and templates by its singular, with where it was found."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, Msgid] = {}
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map,
                                                 keywords=KEYWORDS):
        found[message if isinstance(message, str) else message[0]] = message
    return found


def read_catalog(locale: str) -> Catalog:
    with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        return read_po(po_file, locale=locale)


def catalog_problems(msgids: dict[str, Msgid], catalog: Catalog) -> list[str]:
    """What keeps the catalog from translating every msgid: a missing or obsolete entry,
    an empty or fuzzy one, a singular/plural mismatch, a placeholder that does not fit."""
    problems = []
    for key, msgid in sorted(msgids.items()):
        message = catalog.get(key)
        if message is None:
            problems.append(f"missing: {key!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        if isinstance(msgid, tuple) != message.pluralizable:
            problems.append(f"plural and singular confused: {key!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = catalog.num_plurals if message.pluralizable else 1
        if len(strings) != expected or not all(strings):
            problems.append(f"empty translation: {key!r}")
        problems += [f"{error}: {key!r}" for error in message.check(catalog)]
    problems += [f"obsolete (no longer in the code): {message.id!r}"
                 for message in catalog if message.id and
                 (message.id if isinstance(message.id, str) else message.id[0]) not in msgids]
    problems += [f"obsolete (no longer in the code): {key!r}" for key in catalog.obsolete]
    return problems


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_sentence_of_the_code_and_templates_is_translated(locale: str) -> None:
    msgids = extracted()
    assert len(msgids) > 40  # the extractor read the code and the templates
    assert "Get my card" in msgids and "Welcome to %(tier)s" in msgids
    assert catalog_problems(msgids, read_catalog(locale)) == []


def test_a_missing_empty_fuzzy_or_broken_translation_is_reported() -> None:
    source = """
msgid ""
msgstr ""
"Language: uk\\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
"(n%100<10 || n%100>=20) ? 1 : 2);\\n"

msgid "Done"
msgstr "Готово"

msgid "Empty"
msgstr ""

#, fuzzy
msgid "Guess"
msgstr "Вгадано"

#, python-format
msgid "Hello %(name)s"
msgstr "Привіт %(nme)s"

#, python-format
msgid "%(num)d point"
msgid_plural "%(num)d points"
msgstr[0] "%(num)d бал"
msgstr[1] "%(num)d бали"
msgstr[2] ""

msgid "Gone from the code"
msgstr "Нема"
"""
    catalog = read_po(io.StringIO(source), locale="uk")
    msgids: dict[str, Msgid] = {
        "Done": "Done", "Empty": "Empty", "Guess": "Guess", "Hello %(name)s": "Hello %(name)s",
        "%(num)d point": ("%(num)d point", "%(num)d points"), "New": "New"}
    problems = catalog_problems(msgids, catalog)
    assert "missing: 'New'" in problems
    assert "empty translation: 'Empty'" in problems
    assert "fuzzy: 'Guess'" in problems
    assert "empty translation: '%(num)d point'" in problems
    assert any("Hello %(name)s" in problem and "nme" in problem for problem in problems)
    assert "obsolete (no longer in the code): 'Gone from the code'" in problems
    assert not any("'Done'" in problem for problem in problems)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_catalogs_count_with_babels_plural_rules(locale: str) -> None:
    catalog = read_catalog(locale)
    assert catalog.plural_forms == get_plural(locale).plural_forms
    # The compiled catalog picks, for every number, the form of the CLDR category.
    categories = {"one": 0, "few": 1, "many": 2}
    rules = Locale.parse(locale).plural_form
    with using_locale(locale):
        compiled = translations()
        for n in range(0, 1000):
            assert compiled.ngettext("%(num)d point", "%(num)d points", n) == \
                read_catalog_form(catalog, categories[rules(n)]), n


def read_catalog_form(catalog: Catalog, index: int) -> str:
    message = catalog.get("%(num)d point")
    assert message is not None and isinstance(message.string, tuple)
    return message.string[index]


@pytest.mark.parametrize(("locale", "expected"), [
    ("ru", ["1 балл", "2 балла", "5 баллов", "11 баллов", "21 балл", "22 балла"]),
    ("uk", ["1 бал", "2 бали", "5 балів", "11 балів", "21 бал", "22 бали"]),
    ("en", ["1 point", "2 points", "5 points", "11 points", "21 points", "22 points"]),
])
def test_points_are_counted_in_each_language(locale: str, expected: list[str]) -> None:
    with using_locale(locale):
        said = [ngettext("%(num)d point", "%(num)d points", n) for n in (1, 2, 5, 11, 21, 22)]
    assert said == expected


@pytest.mark.parametrize(("locale", "expected"), [
    ("ru", ["1 минуту", "2 минуты", "5 минут", "11 минут", "21 минуту", "22 минуты"]),
    ("uk", ["1 хвилину", "2 хвилини", "5 хвилин", "11 хвилин", "21 хвилину", "22 хвилини"]),
    ("en", ["1 minute.", "2 minutes.", "5 minutes.", "11 minutes.", "21 minutes.",
            "22 minutes."]),
])
def test_the_links_lifetime_is_counted_in_each_language(locale: str,
                                                        expected: list[str]) -> None:
    with using_locale(locale):
        said = [ngettext("The link works once and expires in %(num)d minute. No mail? Look "
                         "in the spam folder, or ask again in a few minutes.",
                         "The link works once and expires in %(num)d minutes. No mail? Look "
                         "in the spam folder, or ask again in a few minutes.", n)
                for n in (1, 2, 5, 11, 21, 22)]
    for sentence, n, words in zip(said, (1, 2, 5, 11, 21, 22), expected, strict=True):
        assert f" {words}" in sentence and str(n) in sentence

