"""Request bodies parsed into typed values with pydantic, failures as ``Invalid`` problems.

Strict by default: booleans are not integers, strings are not numbers, unknown fields are
refused, and integers are bounded well inside 64 bits. Every text field is checked by
``LINE`` or ``LINES``: control characters (in ``LINES`` all but tab and line breaks) and
lone surrogates are refused, so that what a request may write is what both databases store
alike (PostgreSQL refuses NUL in text; no UTF-8 holds a lone surrogate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from app.errors import Invalid

MAX_INT = 10**15  # far inside 64 bits; no amount or point count comes near it
# Ids, point values and welcome points are PostgreSQL ``integer`` columns: a larger value in
# a query fails there as "integer out of range" (a 500) instead of finding nothing.
MAX_INT32 = 2**31 - 1

Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


def _number_not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return Decimal(str(value))


Percent = Annotated[
    Decimal,
    BeforeValidator(_number_not_bool_or_text),
    Field(ge=0, le=100, max_digits=7, decimal_places=3),
]
@dataclass(frozen=True)
class WholeNumber:
    """Metadata for an integer field, after its constraints:
    ``Annotated[int, Field(ge=1), WHOLE]``.

    JSON has one kind of number, and JSON Schema's ``integer`` admits ``201.0``: a number
    with a zero fraction is that integer. Booleans, fractions, NaN, infinities and text
    still fail the strict check that follows.
    """

    @staticmethod
    def check(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))


WHOLE = WholeNumber()
Count = Annotated[int, Field(ge=0, le=MAX_INT), WHOLE]


def _float_not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return float(value)


Real = Annotated[float, BeforeValidator(_float_not_bool_or_text)]


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time with its offset, as a string")
    return value


def _in_utc(value: datetime) -> datetime:
    # Stored as UTC: 9999-12-31T23:59:59-12:00 is past the last date there is.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 1 to 9999 in UTC") from None


# JSON has no datetime: an ISO 8601 string with its offset ("…Z" or "+02:00"), given
# back in UTC.
Moment = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_text_only),
                   AfterValidator(_in_utc)]


# C0 and C1 control characters (Unicode's Cc) and surrogates (Cs), as pattern text that
# both Python and JSON Schema (ECMA-262) read alike; multi-line text keeps \t, \n and \r.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_CONTROLS_BUT_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NOT_IN_A_LINE = re.compile(f"[{_CONTROLS}\ud800-\udfff]")
_NOT_IN_LINES = re.compile(f"[{_CONTROLS_BUT_BREAKS}\ud800-\udfff]")
LINE_PATTERN = f"^[^{_CONTROLS}]*$"
LINES_PATTERN = f"^[^{_CONTROLS_BUT_BREAKS}]*$"


def text_fault(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` may not be stored as text, or None when it may."""
    found = (_NOT_IN_LINES if multiline else _NOT_IN_A_LINE).search(value)
    if found is None:
        return None
    if "\ud800" <= found.group() <= "\udfff":
        return "must not contain a lone surrogate (not a character)"
    allowed = " (tab and line breaks may be used)" if multiline else ""
    return f"must not contain control characters such as U+{ord(found.group()):04X}{allowed}"


@dataclass(frozen=True)
class TextCheck:
    """Metadata for a text field, after its constraints:
    ``Annotated[str, Field(max_length=200), LINE]``.

    The value is stripped and checked with ``text_fault`` before pydantic's own check
    (which cannot even read a lone surrogate); the JSON Schema gets the matching pattern.
    """

    multiline: bool

    def check(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the type's own check names what it should be
        value = value.strip()  # as str_strip_whitespace does: only the inside counts
        fault = text_fault(value, multiline=self.multiline)
        if fault is not None:
            raise PydanticCustomError("text_characters", fault)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        described = handler(schema)
        described["pattern"] = LINES_PATTERN if self.multiline else LINE_PATTERN
        return described


LINE = TextCheck(multiline=False)  # names, titles, identifiers, reasons
LINES = TextCheck(multiline=True)  # texts people write in paragraphs: terms, offer bodies


def parse_whole(text: str | None, low: int, high: int) -> int | None:
    """A whole number written in a URL: ASCII digits from ``low`` to ``high`` (at most as
    many digits as ``high``, so that int() never meets thousands of them), or None."""
    if text is None or not (0 < len(text) <= len(str(high))):
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        return None
    return int(text)


def parse_id(text: str | None) -> int | None:
    """An id written in a URL (``?location=7``), from 1 to ``MAX_INT32``, or None for
    anything else, which no row can have."""
    return parse_whole(text, 1, MAX_INT32)


def parse(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.",
                      errors=[{"field": "(body)", "message": "must be a JSON object"}])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = [
            {"field": ".".join(str(part) for part in item["loc"]) or "(body)",
             "message": item["msg"]}
            for item in error.errors(include_url=False, include_input=False)
        ]
        first = errors[0]
        raise Invalid(f"{first['field']}: {first['message']}", errors=errors) from None
