"""The cashier screen (``/dashboard/cashier``): find a card (typed number, phone, old
number, or the pass's barcode scanned by ``static/cashier.js``), record a purchase on it,
refund one of its last purchases. The use cases are ``app.ledger.counter``'s, which are
the POS API's; a refusal (too few points, a blocked card, a velocity limit) is said on the
page in its language, and nothing is recorded.

Without JavaScript every step is a plain form; a sale's answer is the page itself (not a
redirect), so sending it again (a reload, a double tap) sends the same idempotency key
and shows the same receipt, marked as already recorded.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Problem
from app.ledger import counter
from app.ledger.counter import CounterCard, Sale
from app.ledger.idempotency import Answer
from app.merchants.access import COUNTER
from app.problem_codes import ProblemCode
from app.web.context import db, runtime
from app.web.dashboard import blueprint, dashboard_locale, render
from app.web.dashboard.cashier_forms import (
    AmountForm,
    FindForm,
    RefundForm,
    SaleForm,
    new_key,
)
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.signin import principal_now, staff_required
from app.web.formats import page_formats

# What the cashier reads when the ledger refuses (nothing was recorded).
REFUSALS = {
    ProblemCode.INSUFFICIENT_POINTS: lazy_gettext(
        "The card holds fewer points than that. Nothing was recorded."),
    ProblemCode.REDEEM_LIMIT: lazy_gettext(
        "Points may pay for only part of this purchase: redeem fewer. Nothing was recorded."),
    ProblemCode.REDEEM_NOT_ALLOWED: lazy_gettext(
        "This card collects stamps: it has no points to redeem. Nothing was recorded."),
    ProblemCode.INSUFFICIENT_REWARDS: lazy_gettext(
        "The card holds fewer rewards than that. Nothing was recorded."),
    ProblemCode.COUPON_UNAVAILABLE: lazy_gettext(
        "This card has no such coupon now. Nothing was recorded."),
    ProblemCode.COUPON_USED: lazy_gettext(
        "This card used this coupon already. Nothing was recorded."),
    ProblemCode.CARD_BLOCKED: lazy_gettext(
        "This card is blocked: nothing can be recorded on it. Nothing was recorded."),
    ProblemCode.VELOCITY_LIMIT: lazy_gettext(
        "The program's limits allow no more purchases on this card (or no more points from "
        "you) for now. Nothing was recorded."),
    ProblemCode.IDEMPOTENCY_KEY_REUSED: lazy_gettext(
        "This form was sent already with other figures. Check the receipt below, then "
        "enter the sale again. Nothing was recorded."),
    ProblemCode.REFUND_EXCEEDS_PURCHASE: lazy_gettext(
        "A refund cannot be more than what is left of the purchase. Nothing was recorded."),
    ProblemCode.LOCATION_FORBIDDEN: lazy_gettext(
        "You record and refund at your own locations only. Nothing was recorded."),
    ProblemCode.UNKNOWN_LOCATION: lazy_gettext(
        "Choose your location. Nothing was recorded."),
}


def _location_choices(shown: CounterCard) -> list[tuple[int, str]]:
    places = [(place.id, place.name) for place in shown.locations]
    if principal_now().limited:
        return places
    return [(0, lazy_gettext("No particular location")), *places]


def _forms(shown: CounterCard, sale: SaleForm | None = None) -> dict[str, Any]:
    """A fresh sale form (a new key: a new attempt) unless one is given, and one refund
    form per refundable purchase, each with its own key."""
    currency, choices = shown.program.currency, _location_choices(shown)
    if sale is None:
        sale = SaleForm(None, key=new_key())
        sale.offer(currency, choices)
    sale.coupon.choices = [(0, str(lazy_gettext("No coupon")))] + [
        (coupon.offer_id, coupon.title) for coupon in shown.coupons]
    refunds = {}
    for purchase in shown.purchases:
        if purchase.refunded_amount < purchase.amount:
            form = RefundForm(None, key=new_key(), prefix=f"refund{purchase.id}")
            form.offer(currency, choices)
            refunds[purchase.id] = form
    return {"sale": sale, "refunds": refunds}


def _card_page(card_id: int, *, status: int = 200, sale: SaleForm | None = None,
               receipt: Answer | None = None, refunded: Answer | None = None,
               problem: str | None = None) -> Response:
    shown = counter.counter_card(db(), principal=principal_now(), card_id=card_id)
    formats = page_formats(dashboard_locale(), shown.program.currency)
    return render("dashboard/cashier_card.html", status=status, shown=shown, card=shown.card,
                  program=shown.program, formats=formats, receipt=receipt,
                  refunded=refunded, problem=problem, find=FindForm(None),
                  several_locations=len(_location_choices(shown)) > 1,
                  **_forms(shown, sale))


@blueprint.get("/cashier")
@staff_required(*COUNTER)
def cashier() -> Response | WerkzeugResponse:
    form = FindForm(request.args if "q" in request.args else None)
    if "q" not in request.args or not form.validate():
        return render("dashboard/cashier.html", find=form, cards=None,
                      status=422 if form.errors else 200)
    cards = counter.find_cards(db(), principal=principal_now(), text=form.q.data or "",
                               keys=runtime().wallet.scan_keys)
    if len(cards) == 1:
        return redirect(url_for("dashboard.cashier_card", card_id=cards[0].id))
    return render("dashboard/cashier.html", find=form, cards=cards,
                  status=200 if cards else 404)


@blueprint.get("/cashier/cards/<int:card_id>")
@staff_required(*COUNTER)
def cashier_card(card_id: int) -> Response:
    return _card_page(card_id)


def _location(form: AmountForm) -> int | None:
    return form.location.data or None


@blueprint.post("/cashier/cards/<int:card_id>/purchases")
@staff_required(*COUNTER)
def cashier_purchase(card_id: int) -> Response:
    shown = counter.counter_card(db(), principal=principal_now(), card_id=card_id)
    form = SaleForm(request.form)
    form.offer(shown.program.currency, _location_choices(shown))
    if not form.validate():
        return _card_page(card_id, status=422, sale=form)
    assert form.amount.units is not None  # validated
    sale = Sale(amount=form.amount.units, redeem_points=form.redeem_points.data or 0,
                redeem_rewards=form.redeem_rewards.data or 0, location_id=_location(form),
                coupon=form.coupon.data or None)
    try:
        answer = counter.record_sale(db, lane=runtime().lane, principal=principal_now(),
                                     card_id=card_id, sale=sale, key=form.key.data or "",
                                     keys=runtime().wallet.scan_keys)
    except Problem as problem:
        if problem.code not in REFUSALS:
            raise
        # The same attempt may be sent again once it is corrected: the key stays.
        return _card_page(card_id, status=problem.status, sale=form,
                          problem=REFUSALS[problem.code])
    return _card_page(card_id, status=200 if answer.replayed else 201, receipt=answer)


@blueprint.post("/cashier/purchases/<int:purchase_id>/refund")
@staff_required(*COUNTER)
def cashier_refund(purchase_id: int) -> Response | WerkzeugResponse:
    form = RefundForm(request.form, prefix=f"refund{purchase_id}")
    card_id = counter.purchase_card(db(), principal=principal_now(), purchase_id=purchase_id)
    shown = counter.counter_card(db(), principal=principal_now(), card_id=card_id)
    form.offer(shown.program.currency, _location_choices(shown))
    if not form.validate():
        return _card_page(card_id, status=422,
                          problem=str(form.amount.errors[0] if form.amount.errors
                                      else REFUSALS[ProblemCode.UNKNOWN_LOCATION]))
    try:
        answer = counter.refund_sale(db(), principal=principal_now(), purchase_id=purchase_id,
                                     amount=form.amount.units, location_id=_location(form),
                                     key=form.key.data or "")
    except Problem as problem:
        if problem.code not in REFUSALS:
            raise
        return _card_page(card_id, status=problem.status, problem=REFUSALS[problem.code])
    return _card_page(card_id, status=200 if answer.replayed else 201, refunded=answer)
