"""The customer's pages: the join form behind the counter QR code, and the card's own page.

The join form never shows or links a card that already exists: a returning customer is
told where their card is (``app.cards.recovery``), whoever typed their email or phone.
Pages that show a card, and the answers about one, are never cached (``no-store``).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import recovery
from app.cards import service as cards
from app.cards.models import Card
from app.cards.schemas import EnrolmentInput
from app.errors import Invalid, NotFound
from app.merchants.models import Location, Program
from app.merchants.service import program_by_slug
from app.offers.service import shown_offers
from app.validation import parse
from app.web.apple_ws import PKPASS
from app.web.context import db, runtime
from app.web.pages import csrf_token, page, page_locale, private
from passes.apple.images import square_mark

blueprint = Blueprint("public", __name__)


def _location(program: Program) -> Location | None:
    location_id = request.values.get("location", type=int)
    if location_id is None:
        return None
    location = db().get(Location, location_id)
    return location if location is not None and location.program_id == program.id else None


@blueprint.get("/join/<slug>")
def join_form(slug: str) -> Response:
    program = program_by_slug(db(), slug)
    return page("join.html", program, page_locale(program), form={}, errors=[],
                location=_location(program), csrf=csrf_token())


@blueprint.post("/join/<slug>")
def join(slug: str) -> BaseResponse:
    program = program_by_slug(db(), slug)
    locale = page_locale(program)
    form = {name: request.form.get(name, "").strip() for name in ("name", "email", "phone")}
    location = _location(program)
    sent_token = request.form.get("csrf", "")
    if not hmac.compare_digest(sent_token, csrf_token()):
        errors = ["Your session expired; please send the form again."]
        return page("join.html", program, locale, 400, form=form, errors=errors,
                    location=location, csrf=csrf_token())
    data: dict[str, object] = {key: value for key, value in form.items() if value}
    data["marketing_consent"] = request.form.get("consent") == "yes"
    data["locale"] = locale
    try:
        joined = recovery.join(db(), program=program, data=parse(EnrolmentInput, data),
                               location_id=location.id if location else None,
                               requested_from=request.remote_addr)
    except Invalid as problem:
        messages = [f"{item['field']}: {item['message']}"
                    for item in problem.extra.get("errors", [])] or [problem.detail]
        return page("join.html", program, locale, 422, form=form, errors=messages,
                    location=location, csrf=csrf_token())
    if joined.card is not None:
        token = runtime().wallet.card_token(joined.card)
        return redirect(url_for("public.card_page", token=token, lang=locale), code=303)
    # A returning customer: one page per kind of answer, and nothing of theirs on it.
    return private(page("returning.html", program, locale, reply=joined.reply.value,
                        minutes=recovery.LINK_MINUTES))


def _card_from_token(token: str) -> Card:
    """The card whose current link this is; an earlier link of it, or a forged one, 404."""
    wallet = runtime().wallet
    card = cards.card_by_serial(db(), wallet.serial_in_token(token))
    if card is None or not wallet.token_opens(card, token):
        raise NotFound("No such card.")
    return card


@blueprint.get("/p/<slug>/logo.png")
def program_logo(slug: str) -> Response:
    """The program's square mark, public: Google Wallet fetches it for the class."""
    program = program_by_slug(db(), slug)
    image = square_mark(program.name, program.colors["background"],
                        program.colors["foreground"], program.logo)
    response = Response(image, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/c/<token>")
def card_page(token: str) -> Response:
    card = _card_from_token(token)
    locale = page_locale(card.program)
    wallet = runtime().wallet
    return private(page("card.html", card.program, locale, card=card,
                        apple_pass_url=wallet.apple_pass_url(card),
                        google_save_url=wallet.google_save_url(card)))


@blueprint.get("/c/<token>/pass.pkpass")
def card_pass(token: str) -> Response:
    card = _card_from_token(token)
    package = runtime().wallet.package(card, offers=shown_offers(db(), card.id))
    response = Response(package, mimetype=PKPASS)
    response.headers["Content-Disposition"] = f'attachment; filename="{card.program.slug}.pkpass"'
    response.headers["Cache-Control"] = "no-store"
    return response
