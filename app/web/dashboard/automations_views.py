"""The automatic offers page of a program: its four rules with their texts in each of
the program's languages, their control groups and numbers, the weekly cap and the pause
over budget. Owners and managers change them; analysts read; cashiers have no offers.

Saving is ``app.automations.service.save_automations``, as ``PUT
/api/v1/programs/{id}/automations``; a refused form is shown again with what was typed
and the fields at fault.
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.automations import service as automations
from app.automations.schemas import AutomationsInput
from app.errors import Invalid
from app.merchants import service as merchants
from app.merchants.access import READERS, WRITERS
from app.merchants.models import Program
from app.texts import localized
from app.validation import parse
from app.web.context import db
from app.web.dashboard import blueprint, dashboard_locale, render
from app.web.dashboard.automations_forms import (
    NUMBER_LABELS,
    RULE_HINTS,
    RULE_NAMES,
    RULE_NUMBERS,
    automations_input,
    form_values,
)
from app.web.dashboard.forms import LANGUAGE_NAMES
from app.web.dashboard.signin import principal_now, staff_required


def _page(program: Program, values: dict[str, str], faults: set[str], status: int = 200
          ) -> Response:
    return render("dashboard/automations.html", status=status, program=program,
                  program_name=localized(program.name_given, dashboard_locale(),
                                         program.locales or ["en"]),
                  program_locales=program.locales or ["en"], language_names_long=LANGUAGE_NAMES,
                  values=values, faults=faults, rule_names=RULE_NAMES, rule_hints=RULE_HINTS,
                  rule_numbers=RULE_NUMBERS, number_labels=NUMBER_LABELS,
                  may_write=principal_now().role in WRITERS,
                  open_texts=_open_texts(values, faults),
                  saved=request.args.get("saved") == "1")


def _open_texts(values: dict[str, str], faults: set[str]) -> set[str]:
    """The rules whose texts the page shows unfolded: those switched on, and those whose
    texts are at fault."""
    return {kind for kind in RULE_NUMBERS if values.get(f"{kind}-enabled") or any(
        fault.startswith((f"{kind}-title", f"{kind}-body")) for fault in faults)}


def _program(program_id: int) -> Program:
    return merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                 program_id=program_id)


@blueprint.get("/programs/<int:program_id>/automations")
@staff_required(*READERS)
def automations_page(program_id: int) -> Response:
    program = _program(program_id)
    current = automations.automations_of(db(), program=program)
    return _page(program, form_values(current, program.locales or ["en"]), set())


@blueprint.post("/programs/<int:program_id>/automations")
@staff_required(*WRITERS)
def save_automations(program_id: int) -> Response | WerkzeugResponse:
    program = _program(program_id)
    locales = program.locales or ["en"]
    try:
        automations.save_automations(db(), program=program, data=parse(
            AutomationsInput, automations_input(request.form, locales)))
    except Invalid as invalid:
        faults = {_form_field(str(error.get("field", ""))) for error in
                  invalid.extra.get("errors") or [{}]}
        return _page(program, dict(request.form), faults, 422)
    return redirect(url_for("dashboard.automations_page", program_id=program.id, saved=1))


def _form_field(field: str) -> str:
    """The form's name of a field the API's body names (``rules.birthday.title.uk``)."""
    parts = field.split(".")
    if parts[0] == "rules" and len(parts) >= 3:
        return "-".join(parts[1:])
    return field
