"""Query-string parameters of the API's GET views, checked: a bad one is a 422 naming it,
before anything is read."""

from __future__ import annotations

from typing import overload

from flask import request

from app.errors import Invalid
from app.validation import parse_whole, text_fault


@overload
def int_arg(name: str, default: int, low: int, high: int) -> int: ...


@overload
def int_arg(name: str, default: None, low: int, high: int) -> int | None: ...


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """The whole number ``name`` from ``low`` to ``high``, or ``default`` when absent."""
    text = request.args.get(name)
    if text is None:
        return default
    value = parse_whole(text, low, high)
    if value is None:
        raise Invalid(f"{name}: a whole number from {low} to {high}.",
                      errors=[{"field": name, "message": f"from {low} to {high}"}])
    return value


def text_arg(name: str, max_length: int) -> str:
    """The one-line text ``name``, stripped ('' when absent), at most ``max_length``
    characters, without control characters (``app.validation.text_fault``)."""
    value = request.args.get(name, "").strip()
    fault = text_fault(value)
    if fault is None and len(value) > max_length:
        fault = f"at most {max_length} characters"
    if fault is not None:
        raise Invalid(f"{name}: {fault}.", errors=[{"field": name, "message": fault}])
    return value
