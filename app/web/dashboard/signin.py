"""Who is signed in to the dashboard: Flask-Login over the signed session cookie.

The session holds the member's id and the ``Staff.session_version`` it began with
(``DashboardUser.get_id``), when it logged in and when it was last used. It is live while
the member is not removed, their version is unchanged (a new password, role, locations
or a removal ends every session), less than ``Config.session_lifetime_minutes`` have
passed since the login and less than ``Config.session_idle_minutes`` since its last
request. Every view asks ``staff_required(*roles)``, which asks the one authorization
function (``app.merchants.access.authorize``) as the API's ``requires`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from app.merchants import accounts
from app.merchants.access import Principal, authorize
from app.merchants.accounts import Where
from app.web.context import db, runtime
from app.web.dashboard import LOCALE_KEY
from app.web.limits import client_address

P = ParamSpec("P")
R = TypeVar("R")

LOGIN_AT = "dashboard_login_at"
SEEN_AT = "dashboard_seen_at"
REQUIRED_ROLES = "dashboard_roles"  # the roles a view admits (the route matrix reads it)
PUBLIC = "dashboard_public"  # set on the views anyone may open (login, reset links)


class DashboardUser(UserMixin):  # type: ignore[misc]
    """A signed-in member: who they act as, and the session number they began with."""

    def __init__(self, principal: Principal, session_version: int) -> None:
        self.principal = principal
        self.session_version = session_version

    def get_id(self) -> str:
        return f"{self.principal.staff_id}.{self.session_version}"


def _load(user_id: str) -> DashboardUser | None:
    staff_id, _, version = user_id.partition(".")
    if not (staff_id.isdigit() and version.isdigit()) or _expired():
        return None
    principal = accounts.session_principal(db(), staff_id=int(staff_id),
                                           session_version=int(version))
    if principal is None:
        return None
    session[SEEN_AT] = int(time.time())
    return DashboardUser(principal, int(version))


def _expired() -> bool:
    config = runtime().config
    now = time.time()
    login_at, seen_at = float(session.get(LOGIN_AT, 0)), float(session.get(SEEN_AT, 0))
    return bool(now - login_at > config.session_lifetime_minutes * 60
            or now - seen_at > config.session_idle_minutes * 60)


class _DashboardLogins(LoginManager):  # type: ignore[misc]
    """Flask-Login for the dashboard's requests only. Its after-request hook reads the
    session of every request, which would make every API answer (the counter's
    purchases too) say ``Vary: Cookie``; no other blueprint signs anyone in."""

    def _update_remember_cookie(self, response: WerkzeugResponse) -> WerkzeugResponse:
        if request.blueprint != "dashboard":
            return response
        updated: WerkzeugResponse = super()._update_remember_cookie(response)
        return updated


def install_login(app: Flask) -> None:
    manager = _DashboardLogins()
    manager.user_loader(_load)
    manager.login_view = "dashboard.login"
    manager.init_app(app)


def sign_in(principal: Principal, session_version: int) -> None:
    """Start a fresh session for the member (nothing of the old one is kept)."""
    locale = session.get(LOCALE_KEY)
    session.clear()
    if locale:
        session[LOCALE_KEY] = locale  # the language chosen before logging in stays
    now = int(time.time())
    session[LOGIN_AT] = session[SEEN_AT] = now
    login_user(DashboardUser(principal, session_version))


def sign_out() -> None:
    logout_user()
    session.clear()


def keep_session(session_version: int) -> None:
    """After the member's own password change: this session goes on with the new number."""
    principal = principal_now()
    login_user(DashboardUser(principal, session_version))


def principal_now() -> Principal:
    user: DashboardUser = current_user._get_current_object()
    return user.principal


def where() -> Where:
    """Where the current request comes from, for the staff action log: the client's
    address, and the location of a member who works at one only."""
    location_id = None
    if current_user.is_authenticated:
        locations = principal_now().locations
        location_id = next(iter(locations)) if len(locations) == 1 else None
    return Where(address=client_address(), location_id=location_id)


def staff_required(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R | WerkzeugResponse]]:
    """The view runs for a signed-in member of one of ``roles``: a visitor who is not
    signed in is sent to the login page; another role is a 403 (``authorize``)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
            if not current_user.is_authenticated:
                return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
            authorize(principal_now(), roles)
            return view(*args, **kwargs)

        setattr(wrapper, REQUIRED_ROLES, roles)
        return wrapper

    return decorate


def public(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view anyone may open (the route matrix checks every other one is guarded)."""
    setattr(view, PUBLIC, True)
    return view
