"""The program editor: the rules, the design and the texts per language of a program, its
artwork uploads, a live picture of its pass front, and how many passes a change redraws
before it is saved; and a new program.

Every change goes through the API's schema and use cases (``ProgramUpdate`` and
``update_program``, ``set_logo``, ``set_strip``, ``set_stamp_icon``): the two doors
refuse and do the same. The preview is drawn from the form's unsaved values
(``program_draft``): nothing is written until "Save".
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from flask import Response, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Conflict, Invalid
from app.merchants import service as merchants
from app.merchants.artwork import set_stamp_icon, set_strip
from app.merchants.fraud_thresholds import FraudThresholds
from app.merchants.logos import set_logo
from app.merchants.models import Program
from app.merchants.schemas import ProgramCreate, ProgramUpdate
from app.validation import parse
from app.wallet.preview import preview_front
from app.web.context import db, runtime
from app.web.dashboard import READERS, WRITERS, blueprint, dashboard_locale, render
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.program_form import (
    ProgramForm,
    body_of,
    form_of_program,
    form_of_request,
    fraud_values,
    refuse_all,
)
from app.web.dashboard.signin import principal_now, staff_required

# The pictures a program may also do without (its logo it may only replace).
REPLACEABLE = {"strip": set_strip, "stamp-icon": set_stamp_icon}
SLUG_TAKEN = lazy_gettext("Another program has this name's web address: change the name a "
                          "little.")


def _program(program_id: int) -> Program:
    return merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                 program_id=program_id)


def _checked(form: ProgramForm, program: Program) -> ProgramUpdate | None:
    """The form as the API's change, or None with its refusals beside the fields."""
    body = body_of(form, program)
    try:
        data = parse(ProgramUpdate, body)
    except Invalid as invalid:
        errors = invalid.extra.get("errors") or []
        refuse_all(form, errors)
        # The rest is checked too, so that every field to change is said at once.
        refused = {str(error.get("field", "")).split(".")[0] for error in errors}
        _draft_faults(form, program, {name: value for name, value in body.items()
                                      if name not in refused})
        return None
    return data if _draft_faults(form, program, data) else None


def _draft_faults(form: ProgramForm, program: Program, data: ProgramUpdate | dict[str, Any]
                  ) -> bool:
    """Whether the use case would take ``data`` (its own checks: texts per language,
    tiers, a stamp card's stamps); its refusals beside the fields when not."""
    try:
        change = data if isinstance(data, ProgramUpdate) else parse(ProgramUpdate, data)
        merchants.program_draft(program, change)
    except Invalid as invalid:
        refuse_all(form, invalid.extra.get("errors") or [])
        return False
    return True


def _page(program: Program, form: ProgramForm, *, status: int = 200,
          changes: int | None = None, notice: str | None = None,
          upload_errors: dict[str, str] | None = None) -> Response:
    query: dict[str, Any] = {name: value for name, value in form.values.items()
                             if not name.startswith("terms-")}  # the back: not drawn
    query["tier_rows"], query["trigger_rows"] = form.tier_rows, form.trigger_rows
    # A page swapped in place (htmx) reuses an image of the same address: a new upload
    # is a new design version, so a new address.
    query["design"] = program.design_version
    preview_url = url_for("dashboard.program_preview", program_id=program.id,
                          locales=form.locales, **query)
    shown = format_decimal(changes or 0, locale=dashboard_locale())
    return render("dashboard/program.html", status=status, program=program, form=form,
                  preview_url=preview_url, changes=changes, changes_shown=shown, notice=notice,
                  passes=merchants.count_program_passes(db(), program_id=program.id),
                  upload_errors=upload_errors or {}, writer=principal_now().role in WRITERS)


@blueprint.get("/programs/<int:program_id>")
@staff_required(*READERS)
def program(program_id: int) -> Response:
    program = _program(program_id)
    return _page(program, form_of_program(program), notice=request.args.get("done"))


@blueprint.post("/programs/<int:program_id>")
@staff_required(*WRITERS)
def save_program(program_id: int) -> Response | WerkzeugResponse:
    """"Preview" shows the unsaved values and the passes they would redraw; "Save"
    saves them."""
    program = _program(program_id)
    form = form_of_request(request.form, program)
    data = _checked(form, program)
    if data is None:
        return _page(program, form, status=422)
    if request.form.get("action") == "preview":
        changes = merchants.passes_changed_by(db(), program=program, data=data)
        return _page(program, form, changes=changes)
    merchants.update_program(db(), program=program, data=data)
    return redirect(url_for("dashboard.program", program_id=program_id, done="saved"))


@blueprint.get("/programs/<int:program_id>/preview.png")
@staff_required(*READERS)
def program_preview(program_id: int) -> Response:
    """The pass front of a sample card, drawn from the values in the query (the form's,
    unsaved); values that cannot be used draw the saved program."""
    program = _program(program_id)
    drawn = program
    if request.args:
        form = form_of_request(MultiDict(request.args), program)
        data = _checked(form, program)
        if data is not None:
            drawn = merchants.program_draft(program, data)
    png = preview_front(runtime().wallet, drawn, locale=dashboard_locale())
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/programs/<int:program_id>/artwork/<any(logo, strip, 'stamp-icon'):kind>")
@staff_required(*WRITERS)
def upload_artwork(program_id: int, kind: str) -> Response | WerkzeugResponse:
    """An upload of the logo, the strip photo or the stamp icon, or its removal."""
    program = _program(program_id)
    upload = request.files.get("image")
    image = upload.read() if upload is not None else b""
    removal = request.form.get("action") == "remove"
    try:
        if kind == "logo":
            set_logo(db(), program=program, image=image)
        else:
            REPLACEABLE[kind](db(), program=program, image=None if removal else image)
    except Invalid:
        return _page(program, form_of_program(program), status=422,
                     upload_errors={kind: _upload_refusal(image)})
    return redirect(url_for("dashboard.program", program_id=program_id, done="artwork"))


def _upload_refusal(image: bytes) -> str:
    if not image:
        return lazy_gettext("Choose a PNG or JPEG file first.")
    return lazy_gettext("This file cannot be used: it must be a PNG or JPEG image, within "
                        "the sizes said above.")


@blueprint.get("/programs/new")
@staff_required(*WRITERS)
def new_program() -> Response:
    form = ProgramForm(values={"kind": "points", "currency": "UAH", "earn_percent": "5",
                               "point_value": "1", "max_redeem_percent": "100",
                               "reward_budget_percent": "3",
                               "barcode_format": "qr", "colors-background": "#1F2A44",
                               "colors-foreground": "#FFFFFF", "colors-label": "#C9D3E6",
                               **fraud_values(FraudThresholds())},
                       locales=[dashboard_locale()], tier_rows=1)
    return render("dashboard/program_new.html", form=form)


@blueprint.post("/programs/new")
@staff_required(*WRITERS)
def create_program() -> Response | WerkzeugResponse:
    form = form_of_request(request.form, None)
    if request.form.get("action") == "refresh":  # the fields of the languages ticked
        return render("dashboard/program_new.html", form=form)
    body: dict[str, Any] = body_of(form)
    try:
        data = parse(ProgramCreate, body)
        created = merchants.create_program(db(), merchant_id=principal_now().merchant_id,
                                           data=data)
    except Invalid as invalid:
        refuse_all(form, invalid.extra.get("errors") or [])
        return render("dashboard/program_new.html", form=form, status=422)
    except Conflict:
        form.refuse("name", SLUG_TAKEN)
        return render("dashboard/program_new.html", form=form, status=409)
    return redirect(url_for("dashboard.program", program_id=created.id, done="created"))
