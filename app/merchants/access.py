"""Who may do what: the one authorization decision of both doors.

The API (a bearer key, ``app.web.auth``) and the dashboard (a staff member's session,
``app.web.dashboard``) each say who is acting as a ``Principal`` and ask ``authorize``
whether its role may run a use case, and ``check_location`` whether it may act at a
location. Neither door holds a rule of its own.

Invariants: a principal belongs to one merchant; its ``locations`` are that merchant's
(empty: every location of the merchant); the decision reads nothing from the database
(the doors read the principal once per request, the POS hot path with its card).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import Forbidden
from app.problem_codes import ProblemCode

OWNER = "owner"
MANAGER = "manager"
CASHIER = "cashier"
ANALYST = "analyst"
# Who may run which kind of use case (the contract's roles).
READERS = (OWNER, MANAGER, ANALYST)
WRITERS = (OWNER, MANAGER)
COUNTER = (OWNER, MANAGER, CASHIER)
OWNERS = (OWNER,)
# Who sees a customer whole: their email, phone and birthday, and what acts for them (their
# card link, which can change and erase their data; the pass download; the barcode message
# a till accepts). A read-only role sees contacts masked and none of those.
SEES_CUSTOMERS_WHOLE = (OWNER, MANAGER, CASHIER)


_EVERYWHERE: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, for which merchant, with which role, and where."""

    merchant_id: int
    role: str
    staff_id: int | None = None
    # The locations it may act at; empty when it is not limited to any.
    locations: frozenset[int] = _EVERYWHERE
    api_key_id: int | None = None  # set when it acts through an API key

    @property
    def limited(self) -> bool:
        return bool(self.locations)

    def may_act_at(self, location_id: int | None) -> bool:
        """Whether it may act at ``location_id`` (None: no location named)."""
        return not self.locations or location_id in self.locations


def sees_customers_whole(role: str) -> bool:
    """Whether ``role`` reads customers whole (``SEES_CUSTOMERS_WHOLE``)."""
    return role in SEES_CUSTOMERS_WHOLE


def at_location(location_id: int | None) -> frozenset[int]:
    """The locations of a principal bound to ``location_id`` (None: not bound)."""
    return _EVERYWHERE if location_id is None else frozenset((location_id,))


def authorize(principal: Principal, roles: Iterable[str]) -> Principal:
    """``principal`` when its role is one of ``roles``; ``Forbidden`` otherwise."""
    if principal.role not in roles:
        who = f"{principal.role} key" if principal.api_key_id is not None else principal.role
        raise Forbidden(f"A {who} may not do this.", code=ProblemCode.ROLE_FORBIDDEN)
    return principal


def check_location(principal: Principal, location_id: int | None, *, doing: str) -> None:
    """``Forbidden`` (``location_forbidden``) when the principal is limited to locations
    and ``location_id`` is not one of them; ``doing`` says what was refused."""
    if not principal.may_act_at(location_id):
        raise Forbidden(doing, code=ProblemCode.LOCATION_FORBIDDEN)


def location_of(principal: Principal, asked: int | None, *, doing: str) -> int | None:
    """Where a principal limited to one location acts when it names none: that one;
    otherwise ``asked``, checked with ``check_location``."""
    if asked is None and len(principal.locations) == 1:
        return next(iter(principal.locations))
    if asked is not None or principal.limited:
        check_location(principal, asked, doing=doing)
    return asked
