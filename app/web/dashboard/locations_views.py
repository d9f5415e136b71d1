"""A program's locations: the list with each one's counter QR code and posters (A4, A5, in
each of the program's languages) to download through the dashboard's session, a new
location, and a location's name, address and coordinates.

The values go through the API's schema (``LocationCreate``: a latitude from -90 to 90, a
longitude from -180 to 180, both or neither) and the use cases ``create_location`` and
``update_location``; the QR code and the poster are the API's own (``app.web.posters``).
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Invalid
from app.i18n import LOCALES
from app.merchants import service as merchants
from app.merchants.access import CASHIER
from app.merchants.models import Location, Program
from app.merchants.schemas import LocationCreate
from app.validation import parse
from app.web.context import db, runtime
from app.web.dashboard import READERS, WRITERS, blueprint, render
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.signin import principal_now, staff_required
from app.web.json_shapes import join_url
from app.web.posters import PAPERS, poster_response, qr_response

FIELDS = ("name", "address", "latitude", "longitude")
MESSAGES = {
    "name": lazy_gettext("Give the location a name (at most 200 characters)."),
    "address": lazy_gettext("The address may have at most 500 characters."),
    "latitude": lazy_gettext("Enter a latitude from -90 to 90, e.g. 50.4501."),
    "longitude": lazy_gettext("Enter a longitude from -180 to 180, e.g. 30.5234."),
    "(body)": lazy_gettext("Give both the latitude and the longitude, or neither."),
}


def _values(location: Location | None) -> dict[str, str]:
    if location is None:
        return dict.fromkeys(FIELDS, "")
    return {"name": location.name, "address": location.address,
            "latitude": "" if location.latitude is None else str(location.latitude),
            "longitude": "" if location.longitude is None else str(location.longitude)}


def _coordinate(text: str) -> float | str | None:
    try:
        return float(text.replace(",", ".")) if text else None
    except ValueError:
        return text  # refused by the schema at its field


def _checked(values: dict[str, str]) -> tuple[LocationCreate | None, dict[str, str]]:
    body = {"name": values["name"], "address": values["address"],
            "latitude": _coordinate(values["latitude"]),
            "longitude": _coordinate(values["longitude"])}
    try:
        return parse(LocationCreate, body), {}
    except Invalid as invalid:
        errors: dict[str, str] = {}
        for error in invalid.extra.get("errors") or []:
            field = error.get("field", "(body)")
            errors.setdefault("latitude" if field == "(body)" else field,
                              MESSAGES.get(field, MESSAGES["(body)"]))
        return None, errors


def _sent() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in FIELDS}


def _program(program_id: int) -> Program:
    return merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                 program_id=program_id)


def _location(location_id: int) -> Location:
    return merchants.get_location(db(), merchant_id=principal_now().merchant_id,
                                  location_id=location_id)


def _list_page(program: Program, values: dict[str, str], errors: dict[str, str],
               status: int = 200) -> Response:
    return render("dashboard/locations.html", status=status, program=program,
                  locations=program.locations, values=values, errors=errors,
                  papers=list(PAPERS), languages=[code for code in program.locales
                                                  if code in LOCALES],
                  writer=principal_now().role in WRITERS, notice=request.args.get("done"))


@blueprint.get("/programs/<int:program_id>/locations")
@staff_required(*READERS)
def locations(program_id: int) -> Response:
    return _list_page(_program(program_id), _values(None), {})


@blueprint.post("/programs/<int:program_id>/locations")
@staff_required(*WRITERS)
def create_location(program_id: int) -> Response | WerkzeugResponse:
    program = _program(program_id)
    values = _sent()
    data, errors = _checked(values)
    if data is None:
        return _list_page(program, values, errors, status=422)
    merchants.create_location(db(), program=program, data=data)
    return redirect(url_for("dashboard.locations", program_id=program_id, done="added"))


@blueprint.get("/locations/<int:location_id>")
@staff_required(*READERS)
def location(location_id: int) -> Response:
    place = _location(location_id)
    return render("dashboard/location.html", place=place, values=_values(place), errors={},
                  writer=principal_now().role in WRITERS)


@blueprint.post("/locations/<int:location_id>")
@staff_required(*WRITERS)
def save_location(location_id: int) -> Response | WerkzeugResponse:
    place = _location(location_id)
    values = _sent()
    data, errors = _checked(values)
    if data is None:
        return render("dashboard/location.html", status=422, place=place, values=values,
                      errors=errors, writer=True)
    merchants.update_location(db(), location=place, data=data)
    return redirect(url_for("dashboard.locations", program_id=place.program_id,
                            done="saved"))


def _join_url(place: Location) -> str:
    return join_url(runtime().config.base_url, place.program, place.id, None)


@blueprint.get("/locations/<int:location_id>/qr.png")
@staff_required(*READERS, CASHIER)
def location_qr(location_id: int) -> Response:
    return qr_response(_join_url(_location(location_id)))


@blueprint.get("/locations/<int:location_id>/poster-<any(A4, A5):size>-<any(en, ru, uk):lang>.pdf")
@staff_required(*READERS, CASHIER)
def location_poster(location_id: int, size: str, lang: str) -> Response:
    place = _location(location_id)
    return poster_response(place.program, place, paper=PAPERS[size], language=lang,
                           url=_join_url(place))

