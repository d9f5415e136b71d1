"""The customer's pages: the join form behind the counter QR code, and the card's own page.

The join form never shows or links a card that already exists: a returning customer is
told where their card is (``app.cards.recovery``), whoever typed their email or phone.
Pages that show a card, and the answers about one, are never cached (``no-store``).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import recovery
from app.cards import service as cards
from app.cards.models import Card
from app.cards.schemas import EnrolmentInput
from app.errors import Invalid, NotFound, RateLimited
from app.i18n import lazy_gettext
from app.merchants.models import Location, Program
from app.merchants.service import program_by_slug, program_location
from app.offers.service import shown_offers
from app.validation import parse, parse_id
from app.wallet.facts import card_facts
from app.web.apple_ws import PKPASS
from app.web.context import db, runtime
from app.web.limits import LimitName, rate_limits
from app.web.pages import csrf_matches, csrf_token, page, page_locale
from app.web.security import no_store

blueprint = Blueprint("public", __name__)


def _location(program: Program) -> Location | None:
    """The location the QR code named; an unknown one (any other text) is left out."""
    return program_location(db(), program=program,
                            location_id=parse_id(request.values.get("location")))


@blueprint.get("/join/<slug>")
def join_form(slug: str) -> Response:
    program = program_by_slug(db(), slug)
    return page("join.html", program, page_locale(program), form={}, errors=[],
                location=_location(program), csrf=csrf_token())


@blueprint.post("/join/<slug>")
@no_store
def join(slug: str) -> BaseResponse:
    program = program_by_slug(db(), slug)
    locale = page_locale(program)
    try:  # before the form is read: a refused request creates nothing
        rate_limits().check(LimitName.JOIN_PER_ADDRESS, LimitName.JOIN_PER_PROGRAM)
    except RateLimited as refused:
        return busy_page(refused, program, locale)
    form = {name: request.form.get(name, "").strip() for name in ("name", "email", "phone")}
    location = _location(program)
    sent_token = request.form.get("csrf", "")
    if not csrf_matches(sent_token):
        errors = [lazy_gettext("Your session expired; please send the form again.")]
        return page("join.html", program, locale, 400, form=form, errors=errors,
                    location=location, csrf=csrf_token())
    data: dict[str, object] = {key: value for key, value in form.items() if value}
    data["marketing_consent"] = request.form.get("consent") == "yes"
    data["locale"] = locale
    try:
        joined = recovery.join(db(), program=program, data=parse(EnrolmentInput, data),
                               location_id=location.id if location else None,
                               requested_from=request.remote_addr,
                               mail_allowed=_mail_budget)
    except Invalid as problem:
        messages = [f"{item['field']}: {item['message']}"
                    for item in problem.extra.get("errors", [])] or [problem.detail]
        return page("join.html", program, locale, 422, form=form, errors=messages,
                    location=location, csrf=csrf_token())
    if joined.card is not None:
        token = runtime().wallet.card_token(joined.card)
        return redirect(url_for("public.card_page", token=token, lang=locale), code=303)
    # A returning customer: one page per kind of answer, and nothing of theirs on it.
    return page("returning.html", program, locale, reply=joined.reply.value,
                minutes=recovery.LINK_MINUTES)


def _mail_budget() -> bool:
    """Whether this client address may still have recovery mails sent (to anyone)."""
    return rate_limits().allows(LimitName.RECOVERY_MAILS)


def busy_page(refused: RateLimited, program: Program | None, locale: str) -> Response:
    """429 as a page: try again in a moment, in the customer's language."""
    response = page("busy.html", program, locale, 429)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


@blueprint.errorhandler(RateLimited)
def refused_page(refused: RateLimited) -> Response:
    """429 for a page behind ``@limited`` (``app.web.limits``), which knows no program:
    this blueprint's pages get it; another blueprint of pages registers it too
    (``blueprint.register_error_handler(RateLimited, refused_page)``)."""
    return busy_page(refused, None, page_locale(None))


def _card_from_token(token: str) -> Card:
    """The card whose current link this is; an earlier link of it, or a forged one, 404."""
    wallet = runtime().wallet
    serial_number = wallet.serial_in_token(token)
    card = cards.card_by_serial(db(), serial_number) if serial_number is not None else None
    if card is None or not wallet.token_opens(card, token):
        raise NotFound("No such card.")
    return card


@blueprint.get("/p/<slug>/logo.png")
def program_logo(slug: str) -> Response:
    """The program's square mark, public: Google Wallet fetches it for the class."""
    program = program_by_slug(db(), slug)
    response = Response(runtime().wallet.program_mark(program), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/p/<slug>/theme.css")
def program_theme(slug: str) -> Response:
    """The program's colours for its pages, as a stylesheet (the pages' policy allows no
    inline style). Colours are validated ``#rrggbb`` values; links carry the design
    version, so a colour change is a new URL and this one may be cached."""
    colors = program_by_slug(db(), slug).colors
    css = (f":root {{ --bg: {colors['background']}; --fg: {colors['foreground']}; "
           f"--label: {colors['label']}; }}\n")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/c/<token>")
@no_store
def card_page(token: str) -> Response:
    """The card's own page, in the customer's language; one they choose with the page's
    language links (``?lang=``) is kept for them (their mails and wallet follow it)."""
    card = _card_from_token(token)
    locale = page_locale(card.program, card.customer.locale)
    if request.args.get("lang") == locale:  # chosen with the page's language links
        cards.remember_locale(db(), card=card, locale=locale)
    wallet = runtime().wallet
    return page("card.html", card.program, locale, card=card,
                apple_pass_url=wallet.apple_pass_url(card),
                google_save_url=wallet.google_save_url(card))


@blueprint.get("/c/<token>/pass.pkpass")
@no_store
def card_pass(token: str) -> Response:
    card = _card_from_token(token)
    package = runtime().wallet.package(card, offers=shown_offers(db(), card.id),
                                      facts=card_facts(db(), card))
    response = Response(package, mimetype=PKPASS)
    response.headers["Content-Disposition"] = f'attachment; filename="{card.program.slug}.pkpass"'
    return response
