"""What a merchant typed into the customer search, read as the things it may stand for.

One typed text may be a name, an email, a phone number and a card number at once: ``read``
gives every reading that fits, and the search (``app.cards.search``) lists the cards that
match any of them.

- A name matches when every word of the text is a fragment of it, in any order and any
  script, whatever the letters' case (``олена ков`` finds "Коваль Олена"); a text without
  a letter is no name.
- An email matches when the text (without spaces) is a fragment of it, whatever the case.
- A phone matches by its end: the national digits of what was typed, read with the
  program's country (``+380 67 123 45 67``, ``067 123 45 67`` and ``67 123 45 67`` are all
  ``671234567``), end the stored number, so the last digits alone find it too. It takes
  at least ``PHONE_MIN_DIGITS`` digits and nothing but digits and the signs people write
  phone numbers with.
- A card number matches whole, typed with or without the spaces it is printed with
  (``card_numbers``: the one place that says what text stands for which card number).
- An old card number (a plastic card's, brought by an import: ``LegacyCardNumber``)
  matches whole as the till reads it (``app.cards.numbers.legacy_number``: spaces and
  dashes left out, any case), when the text holds a digit.

Invariant: the words and the email fragment are lower-cased as the database lower-cases
the stored texts (``app.cards.search``), and hold no wildcard of their own (``like_escaped``
makes ``%`` and ``_`` plain characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from app.cards.numbers import NUMBER_LENGTH, legacy_number

PHONE_MIN_DIGITS = 4
# What may stand between a phone number's digits as people write them.
_PHONE_TEXT = re.compile(r"\+?[0-9 ()./\-]+")
# What people write between the groups of a card number.
_NUMBER_SEPARATORS = re.compile(r"[ \-]")
LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class SearchTerms:
    """The readings of a search text; all empty when it is blank (every card matches)."""

    words: tuple[str, ...] = ()  # lower-cased; each must be a fragment of the name
    email: str | None = None  # lower-cased; a fragment of the email
    phone_suffix: str | None = None  # national digits the phone ends with
    numbers: tuple[str, ...] = ()  # card numbers the text stands for
    old_number: str | None = None  # an imported card's old number, as stored

    @property
    def blank(self) -> bool:
        return not (self.words or self.email or self.phone_suffix or self.numbers
                    or self.old_number)


def read(text: str, country: str | None) -> SearchTerms:
    """Every reading of ``text`` (already checked: one line, bounded), for a program of
    ``country`` (ISO 3166 alpha-2, or None)."""
    words = tuple(text.lower().split())
    if not words:
        return SearchTerms()
    return SearchTerms(words=words if any(char.isalpha() for char in text) else (),
                       email=words[0] if len(words) == 1 else None,
                       phone_suffix=phone_suffix(text, country), numbers=card_numbers(text),
                       old_number=old_card_number(text))


def phone_suffix(text: str, country: str | None) -> str | None:
    """The national digits of a phone number as typed, or None when the text is no phone
    number (letters, or fewer than ``PHONE_MIN_DIGITS`` digits)."""
    text = text.strip()
    if not _PHONE_TEXT.fullmatch(text):
        return None
    digits = "".join(char for char in text if char.isdigit())
    if len(digits) < PHONE_MIN_DIGITS:
        return None
    try:
        national = phonenumbers.national_significant_number(
            phonenumbers.parse(text, country))
    except phonenumbers.NumberParseException:
        national = ""  # no country to read it with, or too short to be a number
    if national and national.isdigit() and len(national) >= PHONE_MIN_DIGITS:
        return national
    # The trunk prefix ("0" in most of Europe) is not stored: E.164 has none.
    return digits.lstrip("0") if len(digits.lstrip("0")) >= PHONE_MIN_DIGITS else None


def card_numbers(text: str) -> tuple[str, ...]:
    """The card numbers ``text`` stands for: the whole number, its groups' spaces or dashes
    left out. Other numbers a card answers to (a plastic card's, once imported) belong
    here too."""
    compact = _NUMBER_SEPARATORS.sub("", text.strip())
    if len(compact) == NUMBER_LENGTH and compact.isascii() and compact.isdigit():
        return (compact,)
    return ()


def old_card_number(text: str) -> str | None:
    """The old card number ``text`` stands for, as an import stored it; None when it holds
    no digit (a name is no old number, though it would read as one)."""
    if not any(char.isdigit() for char in text):
        return None
    return legacy_number(text)


def like_escaped(fragment: str) -> str:
    """``fragment`` for a LIKE pattern with ``LIKE_ESCAPE``: its wildcards made plain."""
    return (fragment.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
            .replace("_", LIKE_ESCAPE + "_"))
