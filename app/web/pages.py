"""What the customer's pages share: their language and rendering.

Forms and their CSRF tokens are Flask-WTF's (``app.web.forms``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import phonenumbers
from babel.dates import format_date
from flask import Response, render_template, request

from app.i18n import LOCALES, best_locale, gettext, ngettext, translate, using_locale
from app.merchants.models import Program


def page_locale(program: Program | None, chosen: str | None = None) -> str:
    """The page's language: ``?lang=``, else ``chosen`` (the one the customer used
    before), else the browser's, among the program's (any of ours without one)."""
    asked = request.args.get("lang")
    requested = [asked] if asked in LOCALES else []
    requested += [chosen] if chosen else []
    requested += [lang for lang, _ in request.accept_languages]
    return best_locale(requested, program.locales if program is not None else LOCALES)


def phone_display(e164: str) -> str:
    """A stored phone as people read it: ``+380 67 123 4567``."""
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def page(template: str, program: Program | None, locale: str, status: int = 200,
         **context: Any) -> Response:
    """A customer's page in ``locale``; without a program (a link we cannot place) it
    wears neutral colours and offers all our languages."""

    def t(key: str, **values: object) -> str:
        return translate(locale, key, **values)

    def date_display(value: date) -> str:
        return format_date(value, format="long", locale=locale)

    with using_locale(locale):
        html = render_template(template, program=program, locale=locale, t=t, _=gettext,
                               ngettext=ngettext, phone_display=phone_display,
                               date_display=date_display,
                               locales=program.locales if program is not None else LOCALES,
                               **context)
    return Response(html, status=status, mimetype="text/html")
