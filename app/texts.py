"""Texts a merchant writes once per language: a program's name, reward text, tier names
and terms, an offer's title and body.

Each is a *localized text*: a plain string, meaning the same text in every language, or
an object of language codes to strings (``{"en": "Bean", "ru": "Зерно"}``). The API
takes either and answers in the shape it was given.

Validation (``LocalizedText`` for a request body, ``program_text_faults`` once the
program's languages are known): an object's keys are language codes Loyalpass speaks
(``LOCALES``) and, more narrowly, languages of the program; it holds the program's first
language; every value passes the field's own text checks (``LINE``/``LINES``, lengths)
and none is empty (leave a language out instead). A text is checked against the
program's languages when it is written; a later change of the program's languages keeps
it as it is (a dropped language's text is kept, and shown again if the language returns).

Which text a customer reads (``localized``), in this order: the text in their language;
else the program's first language's; else the first of the program's other languages
that has one; else any there is (in ``LOCALES`` order). A plain string is every
language's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from app.i18n import LOCALES
from app.validation import LINE_PATTERN, LINES_PATTERN, text_fault

LocalizedValue = str | dict[str, str]
"""A localized text as stored and answered: one string, or language code -> string."""


def localized(text: LocalizedValue | None, locale: str,
              locales: Sequence[str] | None = ()) -> str:
    """The text of ``text`` a reader of ``locale`` sees, by the rule in this module's
    docstring; ``locales`` are the program's, first first (None for a program not yet
    stored). Empty when there is none."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for candidate in (locale, *(locales or ()), *LOCALES):
        value = text.get(candidate)
        if value:
            return value
    return next((value for value in text.values() if value), "")


def in_every_locale(text: LocalizedValue | None, locales: Sequence[str]) -> dict[str, str]:
    """``{locale: text}`` for each of ``locales``, each by ``localized``."""
    return {locale: localized(text, locale, locales) for locale in locales}


def own_texts(text: LocalizedValue | None, locales: Sequence[str]) -> dict[str, str]:
    """The languages among ``locales`` that have a text of their own, with it: every one
    of them for a plain string, those written for an object."""
    if text is None or text == "":
        return {}
    if isinstance(text, str):
        return dict.fromkeys(locales, text)
    return {locale: text[locale] for locale in locales if text.get(locale)}


def is_per_locale(text: LocalizedValue | None) -> bool:
    """Whether the merchant wrote ``text`` per language (an object), not as one string."""
    return isinstance(text, dict)


@dataclass(frozen=True)
class LocalizedText:
    """Metadata of a localized request field, as ``LINE`` is of a text field:
    ``name: Annotated[LocalizedValue, LocalizedText(max_length=120, min_length=1)]``.

    Strict as the other fields (no numbers, no lists); faults are named by their path
    (``name``, ``name.ru``); the JSON Schema says "a string, or an object of languages to
    strings", each with the field's length and characters.
    """

    max_length: int
    min_length: int = 0
    multiline: bool = False

    def check_one(self, value: Any) -> str:
        """A string as ``LINE``/``LINES`` and the lengths check it, stripped."""
        if not isinstance(value, str):
            raise PydanticCustomError(
                "localized_text_type",
                "must be a string, or an object of language codes (en, ru, uk) to strings")
        text: str = value.strip()
        fault = text_fault(text, multiline=self.multiline)
        if fault is not None:
            raise PydanticCustomError("text_characters", fault)
        if len(text) < self.min_length:
            raise PydanticCustomError("string_too_short", "must not be empty" if (
                self.min_length == 1) else f"must have at least {self.min_length} characters")
        if len(text) > self.max_length:
            raise PydanticCustomError(
                "string_too_long", f"must have at most {self.max_length} characters")
        return text

    def check_each(self, texts: dict[Any, Any]) -> dict[str, str]:
        """Every language's text, each checked; the faults named ``field.<language>``."""
        if not texts:
            raise PydanticCustomError(
                "localized_text_empty", "needs a text in at least one language "
                                        "(or a plain string for every language)")
        checked: dict[str, str] = {}
        faults: list[InitErrorDetails] = []
        for locale, value in texts.items():
            if locale not in LOCALES:
                faults.append({"type": PydanticCustomError(
                    "localized_text_locale",
                    "not a language code Loyalpass speaks: use one of " + ", ".join(LOCALES)),
                    "loc": (str(locale),), "input": value})
                continue
            try:
                # An empty text in a language would show nothing: leave it out instead.
                checked[locale] = LocalizedText(self.max_length, max(self.min_length, 1),
                                                self.multiline).check_one(value)
            except PydanticCustomError as fault:
                faults.append({"type": fault, "loc": (locale,), "input": value})
        if faults:
            raise ValidationError.from_exception_data("LocalizedText", faults)
        return checked

    def __call__(self, value: Any) -> LocalizedValue:
        if isinstance(value, dict):
            return self.check_each(value)
        return self.check_one(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return self.json_schema()

    def json_schema(self) -> dict[str, Any]:
        text: dict[str, Any] = {
            "type": "string", "maxLength": self.max_length,
            "pattern": LINES_PATTERN if self.multiline else LINE_PATTERN}
        if self.min_length:
            text["minLength"] = self.min_length
        each = {**text, "minLength": max(self.min_length, 1)}
        return {
            "oneOf": [text, {"type": "object", "propertyNames": {"enum": list(LOCALES)},
                             "additionalProperties": each, "minProperties": 1}],
            "description": "One text for every language, or an object of language codes "
                           "to texts; an object must hold the program's first language and "
                           "only languages of the program.",
        }


def program_text_faults(field: str, text: LocalizedValue | None,
                        locales: Sequence[str]) -> list[dict[str, str]]:
    """What is wrong with a text sent for a program of ``locales`` (first first), as
    problem errors naming ``field.<language>``; empty when nothing is."""
    if not isinstance(text, dict):
        return []
    faults = [{"field": f"{field}.{locale}",
               "message": "not one of the program's languages (" + ", ".join(locales) + ")"}
              for locale in text if locale not in locales]
    if locales and locales[0] not in text:
        faults.append({"field": f"{field}.{locales[0]}",
                       "message": "required: the program's first language needs a text"})
    return faults


def tier_key(tier: Mapping[str, Any]) -> str:
    """A stored tier's key: what ``cards.tier`` holds and offers target.

    Tiers stored before names could be localized have no ``key``: their name, always a
    string then, was the key.
    """
    key = tier.get("key")
    return str(key) if key else str(tier["name"])


def tier_name(tiers: Sequence[Mapping[str, Any]], key: str | None, locale: str,
              locales: Sequence[str]) -> str | None:
    """The name a reader of ``locale`` sees for the tier ``key`` (None for no tier); a key
    no tier has any more (renamed since) reads as itself."""
    if key is None:
        return None
    for tier in tiers:
        if tier_key(tier) == key:
            return localized(tier["name"], locale, locales) or key
    return key
