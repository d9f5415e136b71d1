"""Request bodies parsed into typed values with pydantic, failures as ``Invalid`` problems.

Strict by default: booleans are not integers, strings are not numbers, unknown fields are
refused, and integers are bounded well inside 64 bits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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
Count = Annotated[int, Field(ge=0, le=MAX_INT)]


def _float_not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return float(value)


Real = Annotated[float, BeforeValidator(_float_not_bool_or_text)]


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
