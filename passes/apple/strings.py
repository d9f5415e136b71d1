"""Localizable text of a pass: the built-in label catalog and ``pass.strings`` files.

pass.json carries the primary locale's text; Wallet looks every label, value,
change message and relevant text up as a key in the device language's
``<locale>.lproj/pass.strings`` and shows the key itself when absent. So
:func:`design_phrases` is the single source of both: pass.json takes each
phrase's primary text, and each locale's pass.strings maps that primary text to
its own. Every locale of a design, the primary too, gets a strings file: when a
device language matches no ``.lproj`` folder Wallet picks one arbitrarily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from passes.apple.model import MAX_LOCATIONS, TEXT_IDS, PassDesign

Phrases = Mapping[str, Mapping[str, str]]
"""phrase id -> {locale: text}; the design's primary locale is always present."""

# Apple documents UTF-16 as the encoding of .strings files; a BOM makes the
# byte order explicit instead of platform-dependent.
STRINGS_BOM = b"\xff\xfe"
STRINGS_ENCODING = "utf-16-le"

_RAW_CATALOG: dict[str, dict[str, str]] = {
    "label.points": {"en": "Points", "ru": "Баллы", "uk": "Бали"},
    "change.balance": {
        "en": "Points on your card: %@",
        "ru": "Теперь на вашей карте баллов: %@",
        "uk": "Тепер на вашій картці балів: %@",
    },
    "label.stamps": {"en": "Stamps", "ru": "Штампы", "uk": "Штампи"},
    "change.stamps": {
        "en": "Stamps collected: %@",
        "ru": "Собрано штампов: %@",
        "uk": "Зібрано штампів: %@",
    },
    "label.reward": {"en": "Your reward", "ru": "Ваш подарок", "uk": "Ваш подарунок"},
    "change.reward": {
        "en": "Your reward is ready: %@",
        "ru": "Ваш подарок ждёт вас: %@",
        "uk": "Ваш подарунок чекає на вас: %@",
    },
    "label.to_reward": {
        "en": "Stamps to your reward",
        "ru": "Штампов до подарка",
        "uk": "Штампів до подарунка",
    },
    "value.reward_default": {"en": "A reward", "ru": "Подарок", "uk": "Подарунок"},
    "label.next_tier": {"en": "Next tier", "ru": "Следующий уровень", "uk": "Наступний рівень"},
    "label.history": {
        "en": "Recent activity",
        "ru": "Последние операции",
        "uk": "Останні операції",
    },
    "label.member": {"en": "Member", "ru": "Участник", "uk": "Учасник"},
    "label.tier": {"en": "Tier", "ru": "Уровень", "uk": "Рівень"},
    "change.tier": {
        "en": "You are now %@",
        "ru": "Ваш новый уровень: %@",
        "uk": "Ваш новий рівень: %@",
    },
    "label.offers": {"en": "Offers", "ru": "Предложения", "uk": "Пропозиції"},
    "change.offers": {"en": "%@", "ru": "%@", "uk": "%@"},
    "label.offers_now": {
        "en": "Current offers",
        "ru": "Текущие предложения",
        "uk": "Поточні пропозиції",
    },
    "value.no_offers": {
        "en": "No offers right now",
        "ru": "Сейчас предложений нет",
        "uk": "Зараз пропозицій немає",
    },
    "label.how_it_works": {"en": "How it works", "ru": "Как это работает", "uk": "Як це працює"},
    "label.number": {"en": "Card number", "ru": "Номер карты", "uk": "Номер картки"},
    "label.customer_url": {
        "en": "Your card page",
        "ru": "Страница вашей карты",
        "uk": "Сторінка вашої картки",
    },
    "label.terms": {"en": "Terms", "ru": "Условия", "uk": "Умови"},
    "label.support": {"en": "Support", "ru": "Поддержка", "uk": "Підтримка"},
    "location.default": {
        "en": "Show your card at the counter",
        "ru": "Покажите карту на кассе",
        "uk": "Покажіть картку на касі",
    },
}
CATALOG: Phrases = MappingProxyType(
    {key: MappingProxyType(value) for key, value in _RAW_CATALOG.items()}
)

_KIND_PHRASES = {
    "points": ("label.points", "change.balance"),
    "stamps": ("label.stamps", "change.stamps", "label.to_reward"),
}
_CARD_PHRASES = (
    "label.next_tier",
    "label.reward",
    "change.reward",
    "label.history",
    "label.member",
    "label.tier",
    "change.tier",
    "label.offers",
    "change.offers",
    "label.offers_now",
    "value.no_offers",
    "label.number",
    "label.customer_url",
)


def design_phrases(design: PassDesign) -> dict[str, dict[str, str]]:
    """Every localizable string a pass of this design can show, in a stable order."""
    locales = design.locales
    phrases: dict[str, dict[str, str]] = {}
    for phrase_id in (*_KIND_PHRASES[design.kind], *_CARD_PHRASES):
        phrases[phrase_id] = {locale: CATALOG[phrase_id][locale] for locale in locales}
    if design.reward_text.strip():
        phrases["value.reward"] = {design.primary_locale: design.reward_text.strip()}
    else:
        default = CATALOG["value.reward_default"]
        phrases["value.reward"] = {locale: default[locale] for locale in locales}
    for text_id in TEXT_IDS:
        texts = merchant_text(design, text_id)
        if texts:
            label_id = f"label.{text_id}"
            phrases[label_id] = {locale: CATALOG[label_id][locale] for locale in locales}
            phrases[f"text.{text_id}"] = texts
    for name_id in design.names:
        texts = merchant_text(design, name_id, design.names)
        if texts:
            phrases[f"name.{name_id}"] = texts
    for index, location in enumerate(design.locations[:MAX_LOCATIONS]):
        if location.relevant_text.strip():
            phrases[f"location.{index}"] = {design.primary_locale: location.relevant_text}
        else:
            default = CATALOG["location.default"]
            phrases[f"location.{index}"] = {locale: default[locale] for locale in locales}
    return phrases


def merchant_text(design: PassDesign, text_id: str,
                  source: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """The design's ``{locale: text}`` for a text id (of ``source``, the design's
    ``texts`` unless given), primary first; empty if none.

    A text missing in the primary locale borrows another locale's, so the field
    still shows; a locale without its own text simply has no entry.
    """
    given = {
        locale: text
        for locale, text in (design.texts if source is None else source).get(
            text_id, {}).items()
        if isinstance(text, str) and text.strip()
    }
    if not given:
        return {}
    fallback = next((given[locale] for locale in design.locales if locale in given), None)
    primary_text = fallback if fallback is not None else next(iter(given.values()))
    texts = {design.primary_locale: given.get(design.primary_locale, primary_text)}
    texts.update({locale: given[locale] for locale in design.locales[1:] if locale in given})
    return texts


def render_strings(phrases: Phrases, locales: Sequence[str]) -> dict[str, bytes]:
    """``{"<locale>.lproj/pass.strings": bytes}`` for each locale, UTF-16 with a BOM.

    Keys are primary-locale texts; when two phrases share one, the first wins,
    since a strings file can map a key only once.
    """
    primary = locales[0]
    files: dict[str, bytes] = {}
    for locale in locales:
        seen: set[str] = set()
        lines: list[str] = []
        for texts in phrases.values():
            key, value = texts[primary], texts.get(locale)
            if value is None or key in seen:
                continue
            seen.add(key)
            lines.append(f'"{escape_strings_text(key)}" = "{escape_strings_text(value)}";\n')
        files[f"{locale}.lproj/pass.strings"] = STRINGS_BOM + "".join(lines).encode(
            STRINGS_ENCODING
        )
    return files


def read_strings(data: bytes) -> dict[str, str]:
    """The entries of a pass.strings file as :func:`render_strings` writes them (UTF-16
    with a BOM, one ``"key" = "value";`` a line); ValueError for anything else."""
    if data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError("a pass.strings file starts with a UTF-16 byte order mark")
    entries: dict[str, str] = {}
    for line in data.decode("utf-16").split("\n"):
        if not line.strip():
            continue
        match = _ENTRY.fullmatch(line.strip())
        if match is None:
            raise ValueError(f"not a strings entry: {line!r}")
        key, value = (_unescape(part) for part in match.groups())
        entries.setdefault(key, value)
    return entries


_LITERAL = r'"((?:[^"\\]|\\.)*)"'
_ENTRY = re.compile(_LITERAL + r" = " + _LITERAL + ";")
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            code = text[index + 1]
            if code == "U":
                out.append(chr(int(text[index + 2:index + 6], 16)))
                index += 6
                continue
            out.append(_UNESCAPES.get(code, code))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_strings_text(text: str) -> str:
    """Quote-safe text for a .strings literal; other control characters as ``\\UXXXX``."""
    out: list[str] = []
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20 or char == "\x7f":
            out.append(f"\\U{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
