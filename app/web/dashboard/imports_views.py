"""Customers in and out as CSV on the dashboard: the import's preview, the import, and
the export download, through the API's services (``app.imports``).

The import takes two requests, as the API's ``dry_run``: the chosen file is previewed
(every row's problems, in the page's language; nothing is written), and the preview
page carries the file's text in its form, so that "Import N customers" imports exactly
the file that was previewed, in one transaction (checked again as it is written).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import Conflict, Invalid
from app.imports import service as imports
from app.imports.checks import RowProblem
from app.imports.export import export_cards
from app.imports.sheet import MAX_BYTES, Column
from app.merchants import service as merchants
from app.merchants.access import READERS, WRITERS
from app.problem_codes import ProblemCode
from app.web.context import db, runtime
from app.web.dashboard import blueprint, render
from app.web.dashboard.customers_forms import ImportForm
from app.web.dashboard.customers_views import CONFIRMED, staff_actor
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.signin import principal_now, staff_required

IMPORT_ENDPOINT = "dashboard.import_customers"
COLUMN_NAMES = {
    Column.NAME: lazy_gettext("Name"), Column.PHONE: lazy_gettext("Phone"),
    Column.EMAIL: lazy_gettext("Email"), Column.BIRTHDAY: lazy_gettext("Birthday"),
    Column.CONSENT: lazy_gettext("Consent to offers"),
    Column.OLD_NUMBER: lazy_gettext("Old card number"), Column.BALANCE: lazy_gettext("Balance"),
}
PROBLEM_TEXTS = {
    RowProblem.NAME_MISSING: lazy_gettext("A name is needed."),
    RowProblem.TOO_LONG: lazy_gettext("Too long."),
    RowProblem.CONTROL_CHARACTERS: lazy_gettext("Holds invisible control characters."),
    RowProblem.MISSING: lazy_gettext("Fill it in."),
    RowProblem.CONTACT_MISSING: lazy_gettext("A phone or an email is needed."),
    RowProblem.EMAIL_INVALID: lazy_gettext("This is not an email address."),
    RowProblem.PHONE_INVALID: lazy_gettext(
        "Not a phone number of the program's country; write it with the country code, "
        "like +380 44 123 4567."),
    RowProblem.BIRTHDAY_INVALID: lazy_gettext("Not a date: write 2024-05-17 or 17.05.2024."),
    RowProblem.BIRTHDAY_IN_FUTURE: lazy_gettext("A birthday in the future."),
    RowProblem.BIRTHDAY_TOO_EARLY: lazy_gettext("A birthday before 1900."),
    RowProblem.CONSENT_INVALID: lazy_gettext("Write yes or no."),
    RowProblem.BALANCE_INVALID: lazy_gettext("Not a whole number of points."),
    RowProblem.BALANCE_NEGATIVE: lazy_gettext("A balance cannot be negative."),
    RowProblem.BALANCE_TOO_LARGE: lazy_gettext("Too many points."),
    RowProblem.BALANCE_NOT_POINTS: lazy_gettext("A stamp card has no points balance."),
    RowProblem.OLD_NUMBER_INVALID: lazy_gettext(
        "An old number is 1 to 32 letters and digits."),
    RowProblem.DUPLICATE_IN_FILE: lazy_gettext("The same customer as row %(row)s."),
    RowProblem.OLD_NUMBER_TAKEN: lazy_gettext(
        "Another card of yours has this number already."),
}
UNREADABLE = lazy_gettext("This file cannot be read as CSV. Save the sheet as “CSV UTF-8” "
                          "and choose it again.")
TOO_LARGE = lazy_gettext("The file is too large for one import (16 MiB at most): split it.")
CHANGED = lazy_gettext("Some of these customers changed while the file was imported; "
                       "nothing was imported. Check the file again.")


@blueprint.url_value_preprocessor
def _room_for_the_file(endpoint: str | None, values: dict[str, object] | None) -> None:
    # Runs before the CSRF check reads the form: the preview's form carries the file's
    # text, which may be larger than a form field usually is.
    if endpoint == IMPORT_ENDPOINT:
        request.max_content_length = 2 * MAX_BYTES + 65536
        request.max_form_memory_size = MAX_BYTES


def _uploaded(form: ImportForm) -> bytes:
    """The file chosen, or the previewed file's text carried by the preview's form."""
    if request.form.get("confirmed") == CONFIRMED:
        return request.form.get("data", "").encode()
    chosen = request.files.get(form.file.name)
    return chosen.read(MAX_BYTES + 1) if chosen else b""


@blueprint.route("/programs/<int:program_id>/import", methods=["GET", "POST"])
@staff_required(*WRITERS)
def import_customers(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                    program_id=program_id)
    form = ImportForm(request.form if request.method == "POST" else None)
    page: dict[str, Any] = {"program": program, "form": form, "columns": COLUMN_NAMES,
            "texts": PROBLEM_TEXTS, "confirmed": CONFIRMED}
    if request.method == "GET":
        return render("dashboard/import.html", **page)
    try:
        data = _uploaded(form)
    except RequestEntityTooLarge:
        return render("dashboard/import.html", status=413, problem=TOO_LARGE, **page)
    if not data.strip():
        form.file.errors = [lazy_gettext("Choose a CSV file.")]
        return render("dashboard/import.html", status=422, **page)
    if len(data) > MAX_BYTES:
        return render("dashboard/import.html", status=413, problem=TOO_LARGE, **page)
    try:
        if request.form.get("confirmed") != CONFIRMED:
            preview = imports.preview(db(), program=program, data=data)
            return render("dashboard/import.html", preview=preview,
                          data=data.decode("utf-8", "replace"), **page)
        imported = imports.import_customers(
            db(), program=program, data=data, actor=staff_actor(),
            skip_invalid=form.skip_invalid.data, welcome=form.welcome.data)
    except Invalid as invalid:
        problem = (UNREADABLE if invalid.code == ProblemCode.CSV_UNREADABLE else
                   lazy_gettext("Some rows have problems: tick “Leave out the rows with "
                                "problems” or correct the file."))
        return render("dashboard/import.html", status=422, problem=problem, **page)
    except Conflict:
        return render("dashboard/import.html", status=409, problem=CHANGED, **page)
    return render("dashboard/import.html", imported=imported, **page)


@blueprint.get("/programs/<int:program_id>/customers.csv")
@staff_required(*READERS)
def export_customers(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                    program_id=program_id)
    pieces = export_cards(db(), program=program, actor=staff_actor(),
                          sessions=runtime().sessions)
    response = Response(pieces, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{program.slug}-cards.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
