"""The customer's pages: the join form behind the counter QR code, and the card's own page."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import service as cards
from app.cards.schemas import EnrolmentInput
from app.errors import Invalid, NotFound
from app.i18n import LOCALES, best_locale, translate
from app.merchants.models import Location, Program
from app.merchants.service import program_by_slug, program_location
from app.offers.service import shown_offers
from app.validation import parse, parse_id
from app.web.apple_ws import PKPASS
from app.web.context import db, runtime

blueprint = Blueprint("public", __name__)


def _locale(program: Program) -> str:
    asked = request.args.get("lang")
    requested = [asked] if asked in LOCALES else []
    requested += [lang for lang, _ in request.accept_languages]
    return best_locale(requested, program.locales)


def _csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _page(template: str, program: Program, locale: str, status: int = 200,
          **context: Any) -> Response:
    def t(key: str, **values: object) -> str:
        return translate(locale, key, **values)

    html = render_template(template, program=program, locale=locale, t=t,
                           locales=program.locales, **context)
    return Response(html, status=status, mimetype="text/html")


def _location(program: Program) -> Location | None:
    """The location the QR code named; an unknown one (any other text) is left out."""
    return program_location(db(), program=program,
                            location_id=parse_id(request.values.get("location")))


@blueprint.get("/join/<slug>")
def join_form(slug: str) -> Response:
    program = program_by_slug(db(), slug)
    return _page("join.html", program, _locale(program), form={}, errors=[],
                 location=_location(program), csrf=_csrf_token())


@blueprint.post("/join/<slug>")
def join(slug: str) -> BaseResponse:
    program = program_by_slug(db(), slug)
    locale = _locale(program)
    form = {name: request.form.get(name, "").strip() for name in ("name", "email", "phone")}
    location = _location(program)
    sent_token = request.form.get("csrf", "")
    # As bytes: compare_digest refuses text that is not ASCII, and a form may hold any.
    if not hmac.compare_digest(sent_token.encode(), _csrf_token().encode()):
        errors = ["Your session expired; please send the form again."]
        return _page("join.html", program, locale, 400, form=form, errors=errors,
                     location=location, csrf=_csrf_token())
    data: dict[str, object] = {key: value for key, value in form.items() if value}
    data["marketing_consent"] = request.form.get("consent") == "yes"
    data["locale"] = locale
    try:
        enrolment = cards.enroll(db(), program=program, data=parse(EnrolmentInput, data),
                                 location_id=location.id if location else None)
    except Invalid as problem:
        messages = [f"{item['field']}: {item['message']}"
                    for item in problem.extra.get("errors", [])] or [problem.detail]
        return _page("join.html", program, locale, 422, form=form, errors=messages,
                     location=location, csrf=_csrf_token())
    token = runtime().wallet.card_token(enrolment.card)
    return redirect(url_for("public.card_page", token=token, lang=locale), code=303)


def _card_from_token(token: str) -> Any:
    serial = runtime().wallet.serial_from_token(token)
    card = cards.card_by_serial(db(), serial) if serial else None
    if card is None:
        raise NotFound("No such card.")
    return card


@blueprint.get("/p/<slug>/logo.png")
def program_logo(slug: str) -> Response:
    """The program's square mark, public: Google Wallet fetches it for the class."""
    program = program_by_slug(db(), slug)
    response = Response(runtime().wallet.program_mark(program), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/c/<token>")
def card_page(token: str) -> Response:
    card = _card_from_token(token)
    locale = _locale(card.program)
    wallet = runtime().wallet
    return _page("card.html", card.program, locale, card=card,
                 apple_pass_url=wallet.apple_pass_url(card),
                 google_save_url=wallet.google_save_url(card))


@blueprint.get("/c/<token>/pass.pkpass")
def card_pass(token: str) -> Response:
    card = _card_from_token(token)
    package = runtime().wallet.package(card, offers=shown_offers(db(), card.id))
    response = Response(package, mimetype=PKPASS)
    response.headers["Content-Disposition"] = f'attachment; filename="{card.program.slug}.pkpass"'
    response.headers["Cache-Control"] = "no-store"
    return response
