"""The one-time link a returning customer gets by mail (``/r/{token}``).

GET only shows a page with a button: mail scanners fetch links before people do, and
must not use the link up. The button POSTs (with the join form's CSRF token), which
consumes the link and sends the browser to the card's page (303). A used or expired link
is 410 and an unknown or forged one 404, each a page in the customer's language saying
how to ask for a new link. Nothing here is cached.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import recovery
from app.cards.models import CardRecoveryLink
from app.errors import Gone, RateLimited
from app.i18n import LazyText, lazy_gettext
from app.web.context import db, runtime
from app.web.limits import LimitName, limited
from app.web.pages import csrf_matches, csrf_token, page, page_locale
from app.web.public import refused_page
from app.web.security import no_store

blueprint = Blueprint("recovery", __name__)
blueprint.register_error_handler(RateLimited, refused_page)

LINK_INVALID = lazy_gettext("This link is not valid.")
LINK_USED = lazy_gettext("This link has already been used.")
GONE_MESSAGES = {recovery.LinkState.USED: LINK_USED,
                 recovery.LinkState.EXPIRED: lazy_gettext("This link has expired.")}
SESSION_EXPIRED = lazy_gettext("Your session expired; please press the button again.")


def _open_link(token: str) -> CardRecoveryLink | BaseResponse:
    """The link the token names while it is open, else the page that says why not."""
    link_id = runtime().wallet.recovery_link_id(token)
    link = recovery.find_link(db(), link_id=link_id) if link_id is not None else None
    if link is None:
        return page("link_gone.html", None, page_locale(None), 404,
                    message=LINK_INVALID, minutes=recovery.LINK_MINUTES)
    state = recovery.link_state(link)
    if state is not recovery.LinkState.OPEN:
        return _gone(link, GONE_MESSAGES[state])
    return link


def _gone(link: CardRecoveryLink, message: LazyText) -> Response:
    locale = page_locale(link.program, link.locale)
    join_url = url_for("public.join_form", slug=link.program.slug, lang=locale)
    return page("link_gone.html", link.program, locale, 410, message=message,
                join_url=join_url, minutes=recovery.LINK_MINUTES)


def _confirm(link: CardRecoveryLink, status: int = 200,
             error: LazyText | None = None) -> Response:
    locale = page_locale(link.program, link.locale)
    return page("recovery.html", link.program, locale, status, csrf=csrf_token(),
                error=error)


@blueprint.get("/r/<token>")
@no_store
@limited(LimitName.RECOVERY)
def confirm(token: str) -> BaseResponse:
    link = _open_link(token)
    return _confirm(link) if isinstance(link, CardRecoveryLink) else link


@blueprint.post("/r/<token>")
@no_store
@limited(LimitName.RECOVERY)
def open_card(token: str) -> BaseResponse:
    link = _open_link(token)
    if not isinstance(link, CardRecoveryLink):
        return link
    if not csrf_matches(request.form.get("csrf", "")):
        return _confirm(link, 400, error=SESSION_EXPIRED)
    try:
        card = recovery.open_link(db(), link_id=link.id)
    except Gone:
        return _gone(link, LINK_USED)  # another click won the race
    locale = page_locale(link.program, link.locale)
    card_token = runtime().wallet.card_token(card)
    return redirect(url_for("public.card_page", token=card_token, lang=locale), code=303)
