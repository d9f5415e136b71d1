"""The sentences Loyalpass says, in English, Russian and Ukrainian: gettext catalogs.

English msgids are the source; ``translations/{ru,uk}/LC_MESSAGES/messages.po`` hold the
translations and are compiled to ``messages.mo`` when the package is built or installed
(``pip install .`` or ``pip install -e .``; by hand ``pybabel compile -d app/translations``).

Code asks ``gettext("Your %(program)s card", program=name)`` / ``ngettext(...)``; templates
``{{ _("…") }}`` / ``{{ ngettext("%(num)d point", "%(num)d points", n) }}``. The language
is the one of the innermost ``using_locale(locale)`` block in this thread or task (pages
render inside one, as do worker threads building mails and Google objects), else
English. This module imports no Flask: services, workers and pass building use it too;
Flask-Babel (``app.web.pages.init_babel``) takes the page's language from here.

Invariant: every msgid in the code and templates has a Russian and a Ukrainian
translation, neither empty nor fuzzy (``tests/test_i18n_catalogs.py``).
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.support import LazyProxy

LazyText = LazyProxy  # a text that is translated each time it is used

LOCALES = ("en", "ru", "uk")
SOURCE_LOCALE = "en"  # the msgids' language: it has no catalog
DOMAIN = "messages"
TRANSLATIONS_DIR = Path(__file__).with_name("translations")

# The language of the code running in this thread or asyncio task. A ContextVar, not
# process state: each request, worker thread and task sees only its own value, and
# ``using_locale`` restores the previous one on the way out.
_current_locale: ContextVar[str] = ContextVar("loyalpass_locale", default=SOURCE_LOCALE)


class CatalogMissing(RuntimeError):
    """A compiled catalog (``messages.mo``) is not where the package expects it."""


def catalog_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


@cache  # the compiled files are fixed for the life of the process, like imported code
def _catalog(locale: str) -> stdlib_gettext.NullTranslations:
    if locale == SOURCE_LOCALE:
        return stdlib_gettext.NullTranslations()
    path = catalog_path(locale)
    try:
        with path.open("rb") as compiled:
            return stdlib_gettext.GNUTranslations(compiled)
    except FileNotFoundError:
        raise CatalogMissing(
            f"{path} is missing: the translations are compiled when the package is "
            "installed (pip install -e .), or by hand: pybabel compile -d app/translations"
        ) from None


def check_catalogs() -> None:
    """Raise ``CatalogMissing`` unless every language's catalog can be read (at start)."""
    for locale in LOCALES:
        _catalog(locale)


def current_locale() -> str:
    return _current_locale.get()


def translations() -> stdlib_gettext.NullTranslations:
    """The current language's catalog, for callers that fill placeholders themselves
    (Jinja's i18n extension escapes the values before it fills them)."""
    return _catalog(current_locale())


@contextmanager
def using_locale(locale: str) -> Iterator[str]:
    """Speak ``locale`` (one of ``LOCALES``, else English) inside the block, in a request
    or outside one; yields the locale used."""
    chosen = locale if locale in LOCALES else SOURCE_LOCALE
    token = _current_locale.set(chosen)
    try:
        yield chosen
    finally:
        _current_locale.reset(token)


def gettext(msgid: str, **values: object) -> str:
    """``msgid`` in the current language, its ``%(name)s`` placeholders filled from
    ``values`` (without values the text is returned as it is, ``%%`` included)."""
    text = translations().gettext(msgid)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, **values: object) -> str:
    """The form for ``num`` by the current language's plural rule (``Plural-Forms`` of
    its catalog: 1 балл / 2 балла / 5 баллов); ``%(num)d`` is filled with ``num``."""
    text = translations().ngettext(singular, plural, num)
    return text % {"num": num, **values}


def lazy_gettext(msgid: str, **values: object) -> LazyText:
    """``gettext`` evaluated each time the text is used, for texts defined at import."""
    return LazyProxy(gettext, msgid, enable_cache=False, **values)


def lazy_ngettext(singular: str, plural: str, num: int, **values: object) -> LazyText:
    return LazyProxy(ngettext, singular, plural, num, enable_cache=False, **values)


def best_locale(requested: Iterable[str], available: Iterable[str]) -> str:
    """The first requested language we and the program speak, else the program's first."""
    offered = [locale for locale in available if locale in LOCALES] or [SOURCE_LOCALE]
    for language in requested:
        primary = language.split("-")[0].split("_")[0].lower()
        if primary in offered:
            return primary
    return offered[0]

