"""What the customer's pages share: their language and rendering.

Forms and their CSRF tokens are Flask-WTF's (``app.web.forms``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers
from babel.dates import format_date
from flask import Flask, Response, render_template, request
from flask_babel import Babel, refresh
from markupsafe import Markup, escape

from app import i18n
from app.i18n import LOCALES, best_locale, using_locale
from app.merchants.models import Program
from app.texts import LocalizedValue, localized, tier_name
from app.wallet.labels import reward_step_text


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


# How titles set a name apart ("Картка лояльності · Зерно Club"): the word before the
# dot, escaped text of the title.
NAME_DOT = re.compile(r"(\S+) · ")


def keep_dot_with_sentence(title: str) -> Markup:
    """The title with each middle dot joined to the word before it (a no-break space, in
    a ``together`` span the stylesheet never wraps), so that a title that wraps ends a
    line with the dot instead of starting the next one with it. In templates:
    ``{% filter keep_dot_with_sentence %}``; text not yet escaped is escaped first."""
    escaped = str(escape(title))
    joined = NAME_DOT.sub(lambda found: f'<span class="together">{found[1]}\u00a0·</span> ',
                          escaped)
    return Markup(joined)  # noqa: S704 (built of escaped text and our own span)


def install_page_filters(app: Flask) -> None:
    app.jinja_env.filters["keep_dot_with_sentence"] = keep_dot_with_sentence


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
    wears neutral colours and offers all our languages. Texts the view made with
    ``lazy_gettext`` are put into the page in ``locale`` too.

    The merchant's texts read in the page's language (``app.texts``): ``program_name``,
    ``text(value)`` for any localized text, ``tier_name(key)`` for a card's tier,
    ``reward_step(missing)`` for a stamp card's way to its reward (the pass's sentence).
    """
    def date_display(value: date) -> str:
        return format_date(value, format="long", locale=locale)

    locales = program.locales if program is not None else LOCALES

    def text(value: LocalizedValue | None) -> str:
        return localized(value, locale, locales)

    def tier(key: str | None) -> str | None:
        return tier_name(program.tiers, key, locale, locales) if program is not None else key

    def reward_step(missing: int) -> str:
        return reward_step_text(program, missing, locale) if program is not None else ""

    with using_locale(locale):
        refresh()  # Flask-Babel's locale of this request follows (its number formats)
        html = render_template(template, program=program, locale=locale, locales=locales,
                               program_name=text(program.name_given) if program else None,
                               text=text, tier_name=tier, reward_step=reward_step,
                               phone_display=phone_display,
                               date_display=date_display, **context)
    return Response(html, status=status, mimetype="text/html")

