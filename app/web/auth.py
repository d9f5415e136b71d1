"""Bearer API keys: who is calling, for which merchant, with which role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from app.errors import Forbidden, Unauthorized
from app.merchants.service import Caller, authenticate_api_key
from app.web.context import db

P = ParamSpec("P")
R = TypeVar("R")

READERS = ("owner", "manager", "analyst")
WRITERS = ("owner", "manager")
COUNTER = ("owner", "manager", "cashier")


def current_key() -> Caller:
    key: Caller = g.api_key
    return key


def merchant_id() -> int:
    return current_key().merchant_id


def requires(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
            session = db()
            key = authenticate_api_key(session, presented.strip())
            if key is None:
                raise Unauthorized("This API key is not valid.", code="invalid_api_key")
            if key.role not in roles:
                raise Forbidden(f"A {key.role} key may not do this.", code="role_forbidden")
            g.api_key = key
            return view(*args, **kwargs)

        return wrapper

    return decorate
