"""Localizable text of a pass: its phrases and ``pass.strings`` files.

pass.json carries the primary locale's text; Wallet looks every label, value,
change message and relevant text up as a key in the device language's
``<locale>.lproj/pass.strings`` and shows the key itself when absent. So the phrases
(phrase id -> ``{locale: text}``) are the single source of both: pass.json takes each
phrase's primary text, and each locale's pass.strings maps that primary text to
its own. Every locale of a design, the primary too, gets a strings file: when a
device language matches no ``.lproj`` folder Wallet picks one arbitrarily.

The words come from the caller: the design's labels (:mod:`passes.labels`), the
program's texts and names, the locations' texts, and per card its offers' titles and a
stamp card's next step (:func:`card_phrases`). A design's phrases are written once
(:func:`design_phrases`); a card's own are added after them (:func:`extend_strings`),
so a card with none shares its design's files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from passes.apple.model import MAX_LOCATIONS, TEXT_IDS, PassCard, PassDesign
from passes.labels import stamps_missing

Phrases = Mapping[str, Mapping[str, str]]
"""phrase id -> {locale: text}; the design's primary locale is always present."""

# Apple documents UTF-16 as the encoding of .strings files; a BOM makes the
# byte order explicit instead of platform-dependent.
STRINGS_BOM = b"\xff\xfe"
STRINGS_ENCODING = "utf-16-le"
OFFERS_SEPARATOR = ", "  # the offers' titles on the front, in one field
CHANGE_OFFERS = "%@"  # the new offers are the whole lock-screen message, in any language

# Which label each phrase id shows (``PassLabels`` field names), by the kind of program
# and then for every card.
_KIND_LABELS = {
    "points": {"label.points": "points", "change.balance": "change_balance"},
    "stamps": {"label.stamps": "stamps", "change.stamps": "change_stamps"},
}
_CARD_LABELS = {
    "label.next_tier": "next_tier",
    "label.reward": "reward",
    "change.reward": "change_reward",
    "label.history": "history",
    "label.member": "member",
    "label.tier": "tier",
    "change.tier": "change_tier",
    "label.offers": "offers",
    "label.offers_now": "offers_now",
    "value.no_offers": "no_offers",
    "label.number": "card_number",
    "label.customer_url": "customer_page",
}
_TEXT_LABELS = {"how_it_works": "how_it_works", "terms": "terms", "support": "support"}


def label_phrase(design: PassDesign, name: str) -> dict[str, str]:
    """``{locale: text}`` of the label ``name`` (a ``PassLabels`` field) in every locale."""
    return {locale: getattr(design.labels[locale], name) for locale in design.locales}


def design_phrases(design: PassDesign) -> dict[str, dict[str, str]]:
    """Every localizable string a pass of this design can show, in a stable order."""
    locales = design.locales
    phrases: dict[str, dict[str, str]] = {}
    for phrase_id, name in (*_KIND_LABELS[design.kind].items(), *_CARD_LABELS.items()):
        phrases[phrase_id] = label_phrase(design, name)
    phrases["change.offers"] = dict.fromkeys(locales, CHANGE_OFFERS)
    phrases["value.reward"] = reward_names(design)
    for text_id in TEXT_IDS:
        texts = given_texts(design, design.texts.get(text_id, {}))
        if texts:
            phrases[f"label.{text_id}"] = label_phrase(design, _TEXT_LABELS[text_id])
            phrases[f"text.{text_id}"] = texts
    for name_id in design.names:
        texts = given_texts(design, design.names[name_id])
        if texts:
            phrases[f"name.{name_id}"] = texts
    for index, location in enumerate(design.locations[:MAX_LOCATIONS]):
        texts = given_texts(design, location.relevant_texts)
        phrases[f"location.{index}"] = texts or label_phrase(design, "location_default")
    return phrases


def reward_names(design: PassDesign) -> dict[str, str]:
    """What a completed stamp card earns, in each language there is a name in: the
    program's reward (translated by the design's ``names["reward"]``), else the labels'
    word for a reward."""
    if not design.reward_text.strip():
        return label_phrase(design, "reward_default")
    return {**given_texts(design, design.names.get("reward", {})),
            design.primary_locale: design.reward_text.strip()}


def card_phrases(card: PassCard, design: PassDesign) -> dict[str, dict[str, str]]:
    """The localizable strings of one card beyond its design's: a stamp card's next step
    (when no reward waits) or its rewards when more than one waits ("Free coffee × 2"),
    and its offers' titles, on the front in one line and on the back one a line, each in
    every language it was written in."""
    phrases: dict[str, dict[str, str]] = {}
    if design.kind == "stamps" and not card.rewards:
        missing = stamps_missing(design.stamps_required or 1, card.stamps)
        phrases["value.reward_step"] = dict(design.reward_steps[missing])
    if card.rewards > 1:
        phrases["value.rewards"] = {locale: f"{name} × {card.rewards}"
                                    for locale, name in reward_names(design).items()}
    offers = [texts for texts in (given_texts(design, offer) for offer in card.offers) if texts]
    if offers:
        # An offer not written in a language reads in the primary one there.
        lines = {locale: [texts.get(locale, texts[design.primary_locale]) for texts in offers]
                 for locale in design.locales}
        phrases["value.offers"] = {locale: OFFERS_SEPARATOR.join(titles)
                                   for locale, titles in lines.items()}
        phrases["value.offers_now"] = {locale: "\n".join(titles)
                                       for locale, titles in lines.items()}
    return phrases


def given_texts(design: PassDesign, given: Mapping[str, str]) -> dict[str, str]:
    """``given``'s ``{locale: text}`` for the design, primary first; empty if none.

    A text missing in the primary locale borrows another locale's (the design's first
    that has one, else any), so the field still shows; a locale without its own text
    simply has no entry. Blank texts count as missing.
    """
    texts = {locale: text for locale, text in given.items()
             if isinstance(text, str) and text.strip()}
    if not texts:
        return {}
    fallback = next((texts[locale] for locale in design.locales if locale in texts), None)
    primary_text = fallback if fallback is not None else next(iter(texts.values()))
    return {design.primary_locale: texts.get(design.primary_locale, primary_text),
            **{locale: texts[locale] for locale in design.locales[1:] if locale in texts}}


def render_strings(phrases: Phrases, locales: Sequence[str],
                   extra: Phrases | None = None) -> dict[str, bytes]:
    """``{"<locale>.lproj/pass.strings": bytes}`` for each locale, UTF-16 with a BOM;
    ``extra`` (a card's phrases) follow ``phrases`` (its design's).

    Keys are primary-locale texts; when two phrases share one, the first wins,
    since a strings file can map a key only once.
    """
    primary = locales[0]
    files: dict[str, bytes] = {}
    for locale in locales:
        seen: set[str] = set()
        lines: list[str] = []
        for texts in (*phrases.values(), *(extra or {}).values()):
            key, value = texts.get(primary), texts.get(locale)
            if key is None or value is None or key in seen:
                continue
            seen.add(key)
            lines.append(f'"{escape_strings_text(key)}" = "{escape_strings_text(value)}";\n')
        files[f"{locale}.lproj/pass.strings"] = STRINGS_BOM + "".join(lines).encode(
            STRINGS_ENCODING
        )
    return files


def strings_keys(phrases: Phrases, primary: str) -> frozenset[str]:
    """The keys :func:`render_strings` writes for ``phrases``."""
    return frozenset(texts[primary] for texts in phrases.values() if primary in texts)


def extend_strings(files: Mapping[str, bytes], keys: frozenset[str], extra: Phrases,
                   locales: Sequence[str]) -> dict[str, bytes]:
    """``render_strings(phrases, locales, extra)`` from the files ``render_strings(phrases,
    locales)`` wrote and their ``keys``: the design's lines are written once, each card
    adds its own after them."""
    primary = locales[0]
    extended: dict[str, bytes] = {}
    for locale in locales:
        seen = set(keys)
        lines: list[str] = []
        for texts in extra.values():
            key, value = texts.get(primary), texts.get(locale)
            if key is None or value is None or key in seen:
                continue
            seen.add(key)
            lines.append(f'"{escape_strings_text(key)}" = "{escape_strings_text(value)}";\n')
        name = f"{locale}.lproj/pass.strings"
        extended[name] = files[name] + "".join(lines).encode(STRINGS_ENCODING)
    return extended


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
