"""What the customer's pages share: their language, the form token, rendering."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Response, render_template, request, session

from app.i18n import LOCALES, best_locale, gettext, ngettext, translate
from app.merchants.models import Program


def page_locale(program: Program | None, chosen: str | None = None) -> str:
    """The page's language: ``?lang=``, else ``chosen`` (the one the customer used
    before), else the browser's, among the program's (any of ours without one)."""
    asked = request.args.get("lang")
    requested = [asked] if asked in LOCALES else []
    requested += [chosen] if chosen else []
    requested += [lang for lang, _ in request.accept_languages]
    return best_locale(requested, program.locales if program is not None else LOCALES)


def csrf_token() -> str:
    """The form token of this browser's session (the join form, the recovery button)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def csrf_matches(sent: str) -> bool:
    """Whether a form came back with this session's token. As bytes: ``compare_digest``
    refuses text that is not ASCII, and a form may hold any."""
    return hmac.compare_digest(sent.encode(), csrf_token().encode())


def page(template: str, program: Program | None, locale: str, status: int = 200,
         **context: Any) -> Response:
    """A customer's page in ``locale``; without a program (a link we cannot place) it
    wears neutral colours and offers all our languages."""

    def t(key: str, **values: object) -> str:
        return translate(locale, key, **values)

    html = render_template(template, program=program, locale=locale, t=t, _=gettext,
                           ngettext=ngettext,
                           locales=program.locales if program is not None else LOCALES,
                           **context)
    return Response(html, status=status, mimetype="text/html")

