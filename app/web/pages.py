"""What the customer's pages share: their language, the form token, rendering."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Flask, Response, render_template, request, session
from flask_babel import Babel, refresh

from app import i18n
from app.i18n import LOCALES, best_locale, using_locale
from app.merchants.models import Program


def init_babel(app: Flask) -> None:
    """Flask-Babel for the pages. Its locale is ``app.i18n``'s current one (a page
    renders inside ``using_locale``), and its Jinja i18n extension (``_``, ``gettext``,
    ``ngettext`` in templates) reads ``app.i18n``'s catalogs: a template and the code
    around it always speak the same language, in a request or in a worker."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", i18n.SOURCE_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(i18n.TRANSLATIONS_DIR))
    Babel(app, locale_selector=i18n.current_locale)
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: i18n.translations().gettext(message),
        ngettext=lambda singular, plural, num: i18n.translations().ngettext(
            singular, plural, num),
        newstyle=True,
    )


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
    wears neutral colours and offers all our languages. Texts the view made with
    ``lazy_gettext`` are put into the page in ``locale`` too."""
    with using_locale(locale):
        refresh()  # Flask-Babel's locale of this request follows (its number formats)
        html = render_template(template, program=program, locale=locale,
                               locales=program.locales if program is not None else LOCALES,
                               **context)
    return Response(html, status=status, mimetype="text/html")

