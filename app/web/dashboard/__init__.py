"""The merchant's dashboard: server-rendered pages under ``/dashboard`` on the same
services as the API.

Invariants: every view is either ``public`` (login, password reset, the mailed links) or
``staff_required(*roles)``, which asks the one authorization function
(``app.merchants.access``); another merchant's object is a 404, a role that may not is a
403; every POST carries the session's CSRF token (Flask-WTF) or is refused with a 400
before the view runs, changing nothing; views call one service function each and never
commit. Pages speak the member's language (``?lang=`` remembered in the session, else the
browser's) through the same catalogs as the customer's pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, render_template, request, session
from flask_babel import refresh
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from app.errors import Invalid, Problem
from app.i18n import LOCALES, best_locale, lazy_gettext, using_locale
from app.merchants.access import (
    ANALYST,
    CASHIER,
    MANAGER,
    OWNER,
    OWNERS,
    READERS,
    WRITERS,
)
from app.merchants.passwords import MIN_LENGTH
from app.web.dashboard.forms import LANGUAGE_NAMES, ROLE_NAMES

blueprint = Blueprint("dashboard", __name__, template_folder="../../templates")
LOCALE_KEY = "dashboard_locale"
EVERYONE = (OWNER, MANAGER, CASHIER, ANALYST)
__all__ = ["EVERYONE", "OWNERS", "READERS", "WRITERS", "blueprint", "install_dashboard"]

# Each language's name in itself, short (as the customer's pages show them) and whole.
LANGUAGE_LABELS = {code: (short, LANGUAGE_NAMES[code])
                   for code, short in (("en", "ENG"), ("ru", "РУС"), ("uk", "УКР"))}
ERROR_TEXTS = {
    400: lazy_gettext("This form has expired. Go back, reload the page and send it again."),
    403: lazy_gettext("Your role does not allow this. Ask an owner of the account if you "
                      "need it."),
    404: lazy_gettext("There is nothing here. It may have been removed, or it belongs to "
                      "another account."),
    409: lazy_gettext("This cannot be done now."),
    410: lazy_gettext("This link has been used or has expired. Ask for a new one."),
    422: lazy_gettext("Some of what was sent cannot be used. Go back and check the form."),
    429: lazy_gettext("Too many attempts from here. Wait a minute and try again."),
}


def dashboard_locale() -> str:
    asked = request.args.get("lang")
    if asked in LOCALES:
        session[LOCALE_KEY] = asked
    chosen = session.get(LOCALE_KEY)
    requested = [chosen] if chosen in LOCALES else []
    requested += [language for language, _ in request.accept_languages]
    return best_locale(requested, LOCALES)


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A dashboard page in the member's language."""
    locale = dashboard_locale()
    user = current_user if current_user.is_authenticated else None
    with using_locale(locale):
        refresh()
        html = render_template(template, locale=locale, locales=LOCALES, user=user,
                               language_names=LANGUAGE_LABELS, role_names=ROLE_NAMES,
                               min_length=MIN_LENGTH,
                               csrf=generate_csrf(), **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # pages of a signed-in member
    return response


@blueprint.before_request
def _csrf_on_every_post() -> Response | None:
    """Every POST carries the session's Flask-WTF token (htmx sends it as a form field
    too), checked before the view: a 400 that changes nothing otherwise."""
    if request.method != "POST":
        return None
    try:
        validate_csrf(request.form.get("csrf", ""))
    except ValidationError:
        return error_page(400)
    return None


def invalid_field(invalid: Invalid) -> str | None:
    """The first field a use case refused (its ``errors``), to say it next to the field."""
    errors = invalid.extra.get("errors") or [{}]
    field: str | None = errors[0].get("field")
    return field


def error_page(status: int) -> Response:
    return render("dashboard/error.html", status=status, message=ERROR_TEXTS.get(status,
                  ERROR_TEXTS[422]), status_code=status)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return error_page(error.code or 400)


@blueprint.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    response = error_page(problem.status)
    if problem.retry_after is not None:
        response.headers["Retry-After"] = str(problem.retry_after)
    return response


def install_dashboard(app: Flask) -> None:
    from app.web.dashboard import (  # noqa: F401
        accounts_views,
        activity_views,
        alerts_views,
        analytics_views,
        automations_views,
        cashier_views,
        customers_views,
        home_views,
        imports_views,
        locations_views,
        offers_views,
        programs_views,
        segments_views,
        staff_views,
        webhooks_views,
    )
    from app.web.dashboard.signin import install_login

    install_login(app)
    app.register_blueprint(blueprint, url_prefix="/dashboard")

