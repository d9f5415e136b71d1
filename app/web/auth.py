"""Bearer API keys: who is calling, for which merchant, with which role.

Whether the key's role may run a view is ``app.merchants.access.authorize``'s to say (the
dashboard asks the same function); this module reads the key and says when it is bad.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import g, request
from werkzeug.exceptions import HTTPException

from app.errors import Problem, Unauthorized
from app.merchants.access import COUNTER, READERS, WRITERS, authorize
from app.merchants.service import (
    Caller,
    KeyRow,
    PresentedKey,
    authenticate_api_key,
    live_key,
)
from app.points.postings import Actor
from app.problem_codes import ProblemCode
from app.sql import Raw
from app.web.context import db
from app.web.limits import LimitName, rate_limits

__all__ = ["COUNTER", "READERS", "WRITERS", "requires"]

P = ParamSpec("P")
R = TypeVar("R")

# The attribute of a view that holds the roles it admits (the API's description reads it:
# ``app.web.openapi``).
REQUIRED_ROLES = "required_roles"


def current_key() -> Caller:
    key: Caller = g.api_key
    return key


def merchant_id() -> int:
    return current_key().merchant_id


def key_actor() -> Actor:
    """The calling key as the writer the ledger and the staff action log record."""
    key = current_key()
    return Actor(merchant_id=key.merchant_id, api_key_id=key.id, staff_id=key.staff_id,
                 location_id=key.location_id, role=key.role)


def requires(*roles: str, read_by_view: bool = False
             ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view runs for a live key of one of ``roles`` only: else a 401, or a 403.

    With ``read_by_view`` the view reads the key in its own first statement, with what
    that statement is for (``presented_key`` to read it by, ``admit`` for the row read):
    the counter's purchase saves a round trip. Until the view has admitted the key, any
    problem it raises comes after the key's own check, so that a bad key is a 401 or 403
    before anything else; a view that returns without admitting the key is an error.
    """
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        checked = _checked(view, roles, read_by_view)

        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return checked(*args, **kwargs)
            except Unauthorized:
                # Only failures count, after the key was checked: a valid key always
                # passes, and an address past the limit gets 429 for each bad key.
                rate_limits().check(LimitName.AUTH_FAILURES)
                raise

        setattr(wrapper, REQUIRED_ROLES, roles)
        return wrapper

    return decorate


def _checked(view: Callable[P, R], roles: tuple[str, ...], read_by_view: bool
             ) -> Callable[P, R]:
    """``view`` behind the key's check (see ``requires``)."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        presented = _presented()
        if not read_by_view:
            _admit(authenticate_api_key(db(), presented), roles)
            return view(*args, **kwargs)
        key = PresentedKey.parse(presented)
        if key is None:
            _admit(None, roles)
        g.api_key_pending = (key, roles)
        try:
            response = view(*args, **kwargs)
        except (Problem, HTTPException):
            if not g.get("api_key_checked"):
                _admit(authenticate_api_key(db(), presented), roles)
            raise
        if "api_key" not in g:
            raise RuntimeError(f"{view.__name__} returned without admitting the API key")
        return response

    return wrapper


def presented_key() -> PresentedKey:
    """For a view that ``requires(..., read_by_view=True)``: the key to read."""
    key: PresentedKey = g.api_key_pending[0]
    return key


def admit(raw: Raw, values: Sequence[Any] | None) -> Caller:
    """For a view that ``requires(..., read_by_view=True)``: the key it read on ``raw``
    (the values of ``KEY_COLUMNS``, read by name as a ``KeyRow``; None when no key has the
    prefix), if live and of the view's roles."""
    key, roles = g.api_key_pending
    g.api_key_checked = True
    return _admit(live_key(raw, key, KeyRow.of(values)), roles)


def _presented() -> str:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    return presented.strip()


def _admit(key: Caller | None, roles: tuple[str, ...]) -> Caller:
    if key is None:
        raise Unauthorized("This API key is not valid.", code=ProblemCode.INVALID_API_KEY)
    authorize(key.principal, roles)
    g.api_key = key
    return key
