"""The offers pages: each program's offers (draft, scheduled, published, ended),
composing one, its preview on a pass, publishing (or scheduling) and ending it, how far
it got (cards, devices, pushes, Google messages) and what it did against its control
group. Owners and managers write; analysts read; cashiers have no offers.

Publishing is ``app.offers.service.publish``, as ``POST /api/v1/offers/{id}/publish``;
ending is ``app.offers.schedule.end_offer``, as ``POST /api/v1/offers/{id}/end``; the
figures are ``app.offers.reach.offer_reach`` and ``app.offers.results.offer_results``,
as ``GET /api/v1/offers/{id}/reach`` and ``/results``.
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.clock import utcnow
from app.errors import Conflict, Invalid
from app.merchants import service as merchants
from app.merchants.access import READERS, WRITERS
from app.merchants.models import Program
from app.offers import preview, reach, results, schedule
from app.offers import service as offers
from app.offers.schemas import OfferCreate
from app.problem_codes import ProblemCode
from app.texts import LocalizedValue, localized, tier_key
from app.validation import parse
from app.web.context import db, runtime
from app.web.dashboard import blueprint, dashboard_locale, render
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.offer_forms import OfferForm, offer_form
from app.web.dashboard.offer_results import results_shown
from app.web.dashboard.segment_names import SEGMENT_NAMES
from app.web.dashboard.segments_views import segments_shown
from app.web.dashboard.signin import principal_now, staff_required, where
from app.web.formats import page_formats

STATUS_NAMES = {"draft": lazy_gettext("Draft"), "scheduled": lazy_gettext("Scheduled"),
                "active": lazy_gettext("Published"), "ended": lazy_gettext("Ended")}
PUBLISH_REFUSALS = {
    ProblemCode.OFFER_PUBLISHED: lazy_gettext("This offer was published already."),
    ProblemCode.OFFER_ENDED: lazy_gettext("This offer has ended: it can no longer be "
                                          "published."),
}
END_REFUSALS = {
    ProblemCode.OFFER_ENDED: lazy_gettext("This offer has ended already."),
    ProblemCode.OFFER_NOT_PUBLISHED: lazy_gettext(
        "This offer was never published: there is nothing to end."),
}
# The form's field for each field the API's body names.
FORM_FIELDS = {"starts_at": "starts_on", "ends_at": "ends_on", "(body)": "ends_on",
               "audience.tiers": "tiers", "audience.segments": "segments",
               "audience.inactive_days": "inactive_days",
               "mechanic": "mechanic", "mechanic.coupon": "mechanic_text",
               "mechanic.bonus_points.points": "mechanic_points",
               "mechanic.coupon.points": "mechanic_points",
               "mechanic.multiplier.factor": "mechanic_factor",
               "mechanic.coupon.text": "mechanic_text"}


def _tiers(program: Program) -> list[tuple[str, str]]:
    locale, locales = dashboard_locale(), program.locales or ["en"]
    return [(tier_key(tier), localized(tier["name"], locale, locales) or tier_key(tier))
            for tier in program.tiers]


@blueprint.get("/offers")
@staff_required(*READERS)
def offers_page() -> Response:
    grouped = offers.offers_by_program(db(), merchant_id=principal_now().merchant_id)
    return render("dashboard/offers.html", grouped=grouped, status_of=offers.offer_status,
                  status_names=STATUS_NAMES, say=_in_page_language)


def _in_page_language(text: LocalizedValue, program: Program) -> str:
    """A program's or offer's text as a reader of the page's language sees it."""
    return localized(text, dashboard_locale(), program.locales or ["en"])


def _segment_choices(program: Program) -> list[tuple[str, str]]:
    """Each segment's name with how many customers it holds now."""
    shown = segments_shown(program, principal_now())
    return [(name, f"{SEGMENT_NAMES[name]} ({count})") for name, count in shown.counts.items()]


def _compose_page(program: Program, form: OfferForm, status: int = 200) -> Response:
    return render("dashboard/offer_new.html", status=status, program=program, form=form,
                  program_name=_in_page_language(program.name_given, program),
                  segments_at=segments_shown(program, principal_now()).refreshed_at)


@blueprint.route("/programs/<int:program_id>/offers/new", methods=["GET", "POST"])
@staff_required(*WRITERS)
def new_offer(program_id: int) -> Response | WerkzeugResponse:
    program = merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                    program_id=program_id)
    posted = request.method == "POST"
    form = offer_form(request.form if posted else None, locales=program.locales or ["en"],
                      tiers=_tiers(program), segments=_segment_choices(program))
    if not posted:
        return _compose_page(program, form)
    if not form.validate():
        return _compose_page(program, form, 422)
    try:
        created = offers.create_offer(db(), program=program,
                                      data=parse(OfferCreate, form.offer_input()),
                                      by=principal_now(), where=where())
    except Invalid as invalid:
        for error in invalid.extra.get("errors") or [{}]:
            name = str(error.get("field", "(body)"))
            name = FORM_FIELDS.get(name, name.replace(".", "_"))
            field = next((item for item in form if item.name == name), form.ends_on)
            field.errors = [lazy_gettext(
                "This cannot be used here. Check it and send the form again.")]
        return _compose_page(program, form, 422)
    return redirect(url_for("dashboard.offer_page", offer_id=created.id))


@blueprint.get("/offers/<int:offer_id>")
@staff_required(*READERS)
def offer_page(offer_id: int) -> Response:
    return _offer_page(offer_id)


def _offer_page(offer_id: int, *, problem: str | None = None, status: int = 200) -> Response:
    shown = reach.offer_overview(db(), merchant_id=principal_now().merchant_id,
                                 offer_id=offer_id)
    offer, program = shown.offer, shown.program
    measured = None
    if offer.published_at is not None:
        measured = results_shown(results.offer_results(db(), offer=offer),
                                 page_formats(dashboard_locale(), program.currency))
    return render("dashboard/offer.html", status=status, offer=offer, program=program,
                  program_name=_in_page_language(program.name_given, program),
                  title=_in_page_language(offer.title_given, program),
                  body=_in_page_language(offer.body_given, program),
                  offer_status=offers.offer_status(offer), status_names=STATUS_NAMES,
                  tier_names=dict(_tiers(program)), segment_names=SEGMENT_NAMES,
                  figures=shown.reach, problem=problem,
                  would_reach=shown.would_reach, results=measured,
                  starts_later=offer.starts_at > utcnow(),
                  may_write=principal_now().role in WRITERS,
                  done=request.args.get("done"))


@blueprint.get("/offers/<int:offer_id>/preview.png")
@staff_required(*READERS)
def offer_preview(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=principal_now().merchant_id, offer_id=offer_id)
    png = preview.offer_preview(db(), wallet=runtime().wallet, offer=offer,
                                locale=dashboard_locale())
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/offers/<int:offer_id>/publish")
@staff_required(*WRITERS)
def publish_offer(offer_id: int) -> Response | WerkzeugResponse:
    offer = offers.get_offer(db(), merchant_id=principal_now().merchant_id, offer_id=offer_id)
    try:
        published = offers.publish(db(), offer=offer, by=principal_now(), where=where())
    except Conflict as conflict:
        refusal = PUBLISH_REFUSALS.get(conflict.code, PUBLISH_REFUSALS[
            ProblemCode.OFFER_PUBLISHED])
        return _offer_page(offer_id, problem=refusal, status=409)
    return redirect(url_for("dashboard.offer_page", offer_id=offer_id,
                            done=published.status))


@blueprint.post("/offers/<int:offer_id>/end")
@staff_required(*WRITERS)
def end_offer(offer_id: int) -> Response | WerkzeugResponse:
    offer = offers.get_offer(db(), merchant_id=principal_now().merchant_id, offer_id=offer_id)
    try:
        schedule.end_offer(db(), offer=offer)
    except Conflict as conflict:
        refusal = END_REFUSALS.get(conflict.code, END_REFUSALS[ProblemCode.OFFER_ENDED])
        return _offer_page(offer_id, problem=refusal, status=409)
    return redirect(url_for("dashboard.offer_page", offer_id=offer_id, done="ended"))
