"""The customer's own page (``card_url``, ``/c/{token}``) and what they do there.

Reached only by the card's secret link: every route here opens the card from its token
(an earlier link of the card, or a forged one, is 404) and answers ``no-store``. The page
offers the wallet of the device (``app.web.platforms``), shows the card, its progress,
offers and recent history, and its barcode for a phone without a wallet. The customer
changes their contact details and consent, downloads their data and deletes it, through
Flask-WTF forms (``app.web.card_forms``) that carry the session's CSRF token; a refused
form is the page again with the error beside its field, the values as typed, and nothing
changed. Deleting takes a second, confirming step, and
a deleted card's link shows that it was deleted (410) while its pass download still
answers, with the voided pass, so that a phone holding it learns it is void.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import account
from app.cards import service as cards
from app.cards.audit import Who
from app.cards.models import Card, CardStatus
from app.errors import NotFound
from app.i18n import using_locale
from app.ledger.statement import card_statement
from app.offers.service import current_offers, shown_offers
from app.wallet.facts import card_facts
from app.web.apple_ws import PKPASS
from app.web.card_forms import CardForm, ConsentForm, DeleteForm, DetailsForm, ExportForm
from app.web.context import db, runtime
from app.web.formats import page_formats
from app.web.pages import page, page_locale
from app.web.platforms import platform_of
from app.web.security import no_store

blueprint = Blueprint("card", __name__)
F = TypeVar("F", bound=CardForm)


class Done(StrEnum):
    """What the page confirms after a form went through (``?done=``)."""

    DETAILS = "details"
    CONSENT = "consent"


def _card_from_token(token: str) -> Card:
    """The card whose current link this is; an earlier link of it, or a forged one, 404."""
    wallet = runtime().wallet
    serial_number = wallet.serial_in_token(token)
    card = cards.card_by_serial(db(), serial_number) if serial_number is not None else None
    if card is None or not wallet.token_opens(card, token):
        raise NotFound("No such card.")
    return card


def _locale(card: Card) -> str:
    return page_locale(card.program, card.customer.locale or None)


def _deleted(card: Card, locale: str) -> Response:
    return page("card_deleted.html", card.program, locale, 410)


def _card_page(card: Card, token: str, status: int = 200, *,
               details: DetailsForm | None = None, consent: ConsentForm | None = None,
               form_expired: bool = False) -> Response:
    """The page; ``details`` or ``consent`` is a refused form, shown with its errors and
    its values as sent (otherwise each form shows what is stored)."""
    locale = _locale(card)
    if card.status == CardStatus.DELETED:
        return _deleted(card, locale)
    wallet = runtime().wallet
    done = request.args.get("done")
    return page(
        "card.html", card.program, locale, status, card=card, token=token,
        platform=platform_of(request.headers.get("User-Agent", "")),
        apple_pass_url=wallet.apple_pass_url(card),
        google_save_url=wallet.google_save_url(card),
        statement=card_statement(db(), card=card),
        offers=current_offers(db(), card_id=card.id),
        done=done if done in set(Done) else None, form_expired=form_expired,
        details_form=details if details is not None else DetailsForm.for_card(card, stored=True),
        consent_form=consent if consent is not None else ConsentForm.for_card(card, stored=True),
        export_form=ExportForm.for_card(card, stored=True),
        fmt=page_formats(locale, card.program.currency))


@blueprint.get("/c/<token>")
@no_store
def card_page(token: str) -> Response:
    """The card's page in the customer's language; one they choose with the page's
    language links (``?lang=``) is kept for them (their mails and wallet follow it)."""
    card = _card_from_token(token)
    if card.status != CardStatus.DELETED and request.args.get("lang") == _locale(card):
        cards.remember_locale(db(), card=card, locale=_locale(card))
    return _card_page(card, token)


@blueprint.get("/c/<token>/pass.pkpass")
@no_store
def card_pass(token: str) -> Response:
    card = _card_from_token(token)
    package = runtime().wallet.package(card, offers=shown_offers(db(), card),
                                      facts=card_facts(db(), card))
    response = Response(package, mimetype=PKPASS)
    response.headers["Content-Disposition"] = f'attachment; filename="{card.program.slug}.pkpass"'
    return response


def _image(card: Card, png: bytes) -> Response:
    if card.status == CardStatus.DELETED:
        raise NotFound("No such card.")
    return Response(png, mimetype="image/png")


@blueprint.get("/c/<token>/barcode.png")
@no_store
def card_barcode(token: str) -> Response:
    card = _card_from_token(token)
    return _image(card, runtime().wallet.barcode_image(card))


@blueprint.get("/c/<token>/qr.png")
@no_store
def card_qr(token: str) -> Response:
    card = _card_from_token(token)
    return _image(card, runtime().wallet.card_url_qr(card))


def _back(token: str, card: Card, done: Done | None = None, anchor: str = "") -> BaseResponse:
    url = url_for("card.card_page", token=token, lang=_locale(card),
                  done=done.value if done else None)
    return redirect(url + anchor, code=303)


def _card_page_again(card: Card, token: str, _form: CardForm) -> Response:
    """The card's page for a form sent without a valid token: 400, nothing changed."""
    return _card_page(card, token, 400, form_expired=True)


@blueprint.get("/c/<token>/details")
@blueprint.get("/c/<token>/consent")
@blueprint.get("/c/<token>/data.json")
@no_store
def form_target(token: str) -> BaseResponse:
    """A form's address opened as a page (a reload, a language switch): the card's page."""
    card = _card_from_token(token)
    return _back(token, card)


FormView = Callable[[str, Card, F], BaseResponse]
Again = Callable[[Card, str, F], Response]


def _customer_form(form_class: type[F], again: Again[Any] = _card_page_again
                   ) -> Callable[[FormView[F]], Callable[[str], BaseResponse]]:
    """A form the card's page posts, read and validated as ``form_class`` in the page's
    language: the card by its secret link; a deleted card's page instead of any change
    (also when a deletion wins the race with it); ``again``, the page the form sits on,
    changing nothing, when the form's Flask-WTF token is missing or stale. The view gets
    the validated form (its fields' errors, if any, are the view's to show)."""

    def decorate(view: FormView[F]) -> Callable[[str], BaseResponse]:
        @functools.wraps(view)
        def checked(token: str) -> BaseResponse:
            card = _card_from_token(token)
            if card.status == CardStatus.DELETED:
                return _deleted(card, _locale(card))
            with using_locale(_locale(card)):
                form = form_class.for_card(card)
                form.validate()
            if form.expired:
                return again(card, token, form)
            try:
                return view(token, card, form)
            except account.CardDeleted:
                return _deleted(card, _locale(card))

        return checked

    return decorate


@blueprint.post("/c/<token>/details")
@no_store
@_customer_form(DetailsForm)
def change_details(token: str, card: Card, form: DetailsForm) -> BaseResponse:
    if form.errors:  # and an email or phone another customer holds: every fault at once
        form.show_problems(account.taken_contacts(db(), card_id=card.id, data=form.contact()))
        db().rollback()
        return _card_page(card, token, 422, details=form)
    try:
        account.change_contact(db(), card_id=card.id, who=Who.customer(), data=form.contact())
    except account.ContactRefused as refused:
        db().rollback()
        form.show_problems(refused.problems)
        return _card_page(card, token, 422, details=form)
    return _back(token, card, Done.DETAILS, "#details")


@blueprint.post("/c/<token>/consent")
@no_store
@_customer_form(ConsentForm)
def change_consent(token: str, card: Card, form: ConsentForm) -> BaseResponse:
    if form.errors:
        return _card_page(card, token, 422, consent=form)
    account.set_marketing_consent(db(), card_id=card.id, who=Who.customer(),
                                  consent=form.given)
    return _back(token, card, Done.CONSENT, "#consent")


@blueprint.post("/c/<token>/data.json")
@no_store
@_customer_form(ExportForm)
def export_data(token: str, card: Card, _form: ExportForm) -> BaseResponse:
    document = account.export_data(db(), card_id=card.id, who=Who.customer())
    response = Response(json.dumps(document, ensure_ascii=False, indent=2),
                        mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{card.program.slug}-{card.number}.json"')
    return response


def _delete_page(card: Card, token: str, status: int = 200,
                 form: DeleteForm | None = None) -> Response:
    """The step that asks before deleting, naming the holder's other cards it takes too;
    ``form``, one sent back refused (an expired token, no confirmation)."""
    locale = _locale(card)
    return page("card_delete.html", card.program, locale, status, card=card, token=token,
                form=form if form is not None else DeleteForm.for_card(card, stored=True),
                fmt=page_formats(locale, card.program.currency),
                other_cards=account.other_cards(db(), card=card))


def _delete_page_again(card: Card, token: str, form: DeleteForm) -> Response:
    return _delete_page(card, token, 400, form)


@blueprint.get("/c/<token>/delete")
@no_store
def confirm_delete(token: str) -> Response:
    card = _card_from_token(token)
    if card.status == CardStatus.DELETED:
        return _deleted(card, _locale(card))
    return _delete_page(card, token)


@blueprint.post("/c/<token>/delete")
@no_store
@_customer_form(DeleteForm, again=_delete_page_again)
def delete_data(token: str, card: Card, form: DeleteForm) -> BaseResponse:
    """A replay after the deletion changes nothing (the guard shows the deleted page)."""
    if form.errors:
        return _delete_page(card, token, 400, form)
    with contextlib.suppress(account.CardDeleted):  # another request deleted it first
        account.delete_data(db(), card_id=card.id, who=Who.customer())
    return redirect(url_for("card.card_page", token=token, lang=_locale(card)), code=303)
