"""The customer pages: a program's customer search and a card's page with its actions.

The search is the API's (``app.cards.search.search_cards``), paged by key, with the same
masking of contacts for analysts (``app.merchants.access.sees_customers_whole``); a member
limited to locations finds and opens the cards enrolled there only (``card_in_reach``), as
a location's API key does.

A card's action (adjust, block, unblock, a new link) is sent twice: first without
``confirmed``, which changes nothing and shows the page asking to confirm (the same
without JavaScript; htmx swaps the page in), then with it, which runs the API's service
function once (an adjustment's ``attempt`` is its idempotency key: a double click adjusts
once) and records the member in the staff action log.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.analytics.segments import card_scores
from app.cards import search
from app.cards.contacts import masked_email, masked_phone
from app.cards.links import reissue_link
from app.cards.models import CardStatus
from app.cards.resend import Resent, mail_card_link
from app.delivery.card_overview import card_overview
from app.errors import Conflict
from app.ledger import service as ledger
from app.ledger.idempotency import request_hash
from app.ledger.schemas import AdjustmentInput
from app.merchants import service as merchants
from app.merchants.access import READERS, WRITERS, sees_customers_whole
from app.points.postings import Actor
from app.problem_codes import ProblemCode
from app.validation import MAX_INT32
from app.web.context import db
from app.web.dashboard import blueprint, render
from app.web.dashboard.customers_forms import AdjustForm
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.segment_names import SEGMENT_NAMES
from app.web.dashboard.signin import principal_now, staff_required, where
from app.web.query_args import int_arg, text_arg

CONFIRMED = "yes"
STATUS_NAMES = {CardStatus.ACTIVE: lazy_gettext("Active"),
                CardStatus.BLOCKED: lazy_gettext("Blocked"),
                CardStatus.DELETED: lazy_gettext("Deleted with its holder's data")}
ENTRY_KINDS = {"welcome": lazy_gettext("Welcome points"), "earn": lazy_gettext("Purchase"),
               "redeem": lazy_gettext("Paid with points"), "bonus": lazy_gettext("Bonus"),
               "adjust": lazy_gettext("Correction"), "reverse": lazy_gettext("Refund"),
               "expire": lazy_gettext("Expired")}
# What became of an update or a mail, by the state its row is in.
DELIVERY_STATES = {"idle": lazy_gettext("Up to date"), "synced": lazy_gettext("Up to date"),
                   "sent": lazy_gettext("Sent"), "pending": lazy_gettext("On its way"),
                   "failed": lazy_gettext("Failed; retried no more")}
MAIL_KINDS = {"card_recovery": lazy_gettext("The card's link")}
DONE = {
    "adjust": lazy_gettext("The balance is corrected; the pass updates on the phone."),
    "block": lazy_gettext("The card is blocked: the till refuses it and its pass shows as "
                          "void."),
    "unblock": lazy_gettext("The card works again."),
    "link": lazy_gettext("The card has a new link; the old one no longer opens it."),
    "mail": lazy_gettext("A link to the card is on its way to the customer's email."),
}
# Each action's view, by the name the card page asks to confirm it under.
ACTIONS = {"adjust": "dashboard.adjust_card", "block": "dashboard.block_card",
           "unblock": "dashboard.unblock_card", "link": "dashboard.revoke_card_link",
           "mail": "dashboard.mail_link"}
NOT_MAILED = {
    Resent.NO_EMAIL: lazy_gettext("This customer has no email to send the link to."),
    Resent.TOO_MANY: lazy_gettext("Three links were mailed to this customer within the hour "
                                  "already; try again later."),
}


def _shown(**context: Any) -> dict[str, Any]:
    """What the customer templates need besides their own: contacts masked for a role
    that may not read them whole (as the API's list masks them)."""
    return {"masked": not sees_customers_whole(principal_now().role),
            "masked_email": masked_email, "masked_phone": masked_phone,
            "status_names": STATUS_NAMES, "entry_kinds": ENTRY_KINDS,
            "delivery_states": DELIVERY_STATES, "actions": ACTIONS, "mail_kinds": MAIL_KINDS,
            **context}


def staff_actor() -> Actor:
    """The signed-in member as the writer the ledger and the action log record."""
    principal = principal_now()
    return Actor(merchant_id=principal.merchant_id, staff_id=principal.staff_id,
                 location_id=where().location_id, role=principal.role,
                 locations=principal.locations)


@blueprint.get("/programs/<int:program_id>/customers")
@staff_required(*READERS)
def customers(program_id: int) -> Response:
    principal = principal_now()
    query = text_arg("q", search.MAX_QUERY_LENGTH)
    before = int_arg("before", None, 1, MAX_INT32)
    program = merchants.get_program(db(), merchant_id=principal.merchant_id,
                                    program_id=program_id)
    page = search.search_cards(db(), program=program, query=query, limit=search.DEFAULT_LIMIT,
                               before=before, locations=principal.locations)
    # htmx's "more" asks for the next rows only, appended under the ones shown.
    template = ("dashboard/_customer_rows.html" if request.headers.get("HX-Request")
                and before else "dashboard/customers.html")
    return render(template, **_shown(program=program, query=query, page=page))


def _card_page(card_id: int, *, form: AdjustForm | None = None, asking: str | None = None,
               status: int = 200, problem: str | None = None) -> Response:
    principal = principal_now()
    before = int_arg("before", None, 1, MAX_INT32)
    overview = card_overview(db(), principal=principal, card_id=card_id, before=before)
    scores = card_scores(db(), card_ids=[overview.card.id]).get(overview.card.id)
    return render("dashboard/card.html", status=status, **_shown(
        overview=overview, card=overview.card, form=form or AdjustForm(None), asking=asking,
        scores=scores, segment_names=SEGMENT_NAMES,
        may_act=principal.role in WRITERS, confirmed=CONFIRMED, problem=problem,
        done=DONE.get(request.args.get("done", ""))))


@blueprint.get("/cards/<int:card_id>")
@staff_required(*READERS)
def card(card_id: int) -> Response:
    return _card_page(card_id)


def _done(card_id: int, action: str) -> WerkzeugResponse:
    return redirect(url_for("dashboard.card", card_id=card_id, done=action))


@blueprint.post("/cards/<int:card_id>/adjust")
@staff_required(*WRITERS)
def adjust_card(card_id: int) -> Response | WerkzeugResponse:
    form = AdjustForm(request.form)
    if not form.validate():
        return _card_page(card_id, form=form, status=422)
    if request.form.get("confirmed") != CONFIRMED:
        return _card_page(card_id, form=form, asking="adjust")
    raw: dict[str, Any] = {"points": form.points.data, "reason": form.reason.data}
    try:
        ledger.adjust(db(), actor=staff_actor(), card_id=card_id,
                      data=AdjustmentInput(points=form.points.data or 0,
                                           reason=form.reason.data or ""),
                      key=f"dashboard-{form.attempt.data}",
                      fingerprint=request_hash("POST", request.path, raw))
    except Conflict as conflict:
        form.attempt.data = uuid.uuid4().hex  # a new attempt, whatever is sent next
        said = (lazy_gettext("The card holds fewer points than that; nothing changed.")
                if conflict.code == ProblemCode.INSUFFICIENT_POINTS
                else lazy_gettext("This cannot be done now."))
        return _card_page(card_id, form=form, status=409, problem=said)
    return _done(card_id, "adjust")


def _confirmed_or_asked(card_id: int, action: str) -> Response | None:
    if request.form.get("confirmed") == CONFIRMED:
        return None
    return _card_page(card_id, asking=action)


@blueprint.post("/cards/<int:card_id>/block")
@staff_required(*WRITERS)
def block_card(card_id: int) -> Response | WerkzeugResponse:
    return _set_blocked(card_id, blocked=True)


@blueprint.post("/cards/<int:card_id>/unblock")
@staff_required(*WRITERS)
def unblock_card(card_id: int) -> Response | WerkzeugResponse:
    return _set_blocked(card_id, blocked=False)


def _set_blocked(card_id: int, *, blocked: bool) -> Response | WerkzeugResponse:
    action = "block" if blocked else "unblock"
    asked = _confirmed_or_asked(card_id, action)
    if asked is not None:
        return asked
    try:
        ledger.set_blocked(db(), actor=staff_actor(), card_id=card_id, blocked=blocked,
                           reason="")
    except Conflict:
        return _card_page(card_id, status=409, problem=lazy_gettext(
            "Its holder deleted their data: this card stays void."))
    return _done(card_id, action)


@blueprint.post("/cards/<int:card_id>/link")
@staff_required(*WRITERS)
def revoke_card_link(card_id: int) -> Response | WerkzeugResponse:
    asked = _confirmed_or_asked(card_id, "link")
    if asked is not None:
        return asked
    reissue_link(db(), actor=staff_actor(), card_id=card_id, reset_pass_token=False)
    return _done(card_id, "link")


@blueprint.get("/customers")
@staff_required(*READERS)
def customers_home() -> WerkzeugResponse:
    """The navigation's "Customers": the first program's search (the home, with none)."""
    programs = merchants.list_programs(db(), merchant_id=principal_now().merchant_id)
    if not programs:
        return redirect(url_for("dashboard.home"))
    return redirect(url_for("dashboard.customers", program_id=programs[0].id))


@blueprint.post("/cards/<int:card_id>/mail-link")
@staff_required(*WRITERS)
def mail_link(card_id: int) -> Response | WerkzeugResponse:
    asked = _confirmed_or_asked(card_id, "mail")
    if asked is not None:
        return asked
    try:
        resent = mail_card_link(db(), actor=staff_actor(), card_id=card_id)
    except Conflict:
        return _card_page(card_id, status=409, problem=lazy_gettext(
            "Its holder deleted their data: this card stays void."))
    if resent is not Resent.MAILED:
        return _card_page(card_id, status=409, problem=NOT_MAILED[resent])
    return _done(card_id, "mail")
