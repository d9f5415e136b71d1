"""The merchant and POS JSON API under ``/api/v1``, and its OpenAPI description."""

from __future__ import annotations

import io
from typing import Any

import qrcode
from flask import Blueprint, Response, request

from app.cards import service as cards
from app.cards.links import reissue_link
from app.cards.schemas import CardLinkInput, EnrolmentInput
from app.errors import BadRequest, NotFound
from app.merchants import service as merchants
from app.merchants.artwork import set_stamp_icon, set_strip
from app.merchants.logos import set_logo
from app.merchants.models import ApiKey
from app.merchants.schemas import ApiKeyCreate, LocationCreate, ProgramCreate, ProgramUpdate
from app.validation import parse, parse_id
from app.web.auth import COUNTER, READERS, WRITERS, merchant_id, requires
from app.web.context import db, json_response, runtime
from app.web.openapi import openapi_document
from app.web.views import card_json, join_url, location_json, program_json

blueprint = Blueprint("api", __name__)


def _body() -> Any:
    if not request.data:
        raise BadRequest("The request needs a JSON body.", code="malformed_body")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.", code="malformed_body")
    return data


def _base_url() -> str:
    return runtime().config.base_url


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return json_response(openapi_document(_base_url()))


@blueprint.post("/v1/programs")
@requires(*WRITERS)
def create_program() -> Response:
    data = parse(ProgramCreate, _body())
    program = merchants.create_program(db(), merchant_id=merchant_id(), data=data)
    return json_response(program_json(program, _base_url()), 201,
                 {"Location": f"/api/v1/programs/{program.id}"})


@blueprint.get("/v1/programs")
@requires(*READERS)
def list_programs() -> Response:
    programs = merchants.list_programs(db(), merchant_id=merchant_id())
    return json_response({"programs": [program_json(p, _base_url()) for p in programs]})


@blueprint.get("/v1/programs/<int:program_id>")
@requires(*READERS)
def get_program(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    return json_response(program_json(program, _base_url()))


@blueprint.patch("/v1/programs/<int:program_id>")
@requires(*WRITERS)
def update_program(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(ProgramUpdate, _body())
    program = merchants.update_program(db(), program=program, data=data)
    return json_response(program_json(program, _base_url()))


@blueprint.put("/v1/programs/<int:program_id>/logo")
@requires(*WRITERS)
def upload_logo(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_logo(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.put("/v1/programs/<int:program_id>/strip")
@requires(*WRITERS)
def upload_strip(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_strip(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.delete("/v1/programs/<int:program_id>/strip")
@requires(*WRITERS)
def remove_strip(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_strip(db(), program=program, image=None)
    return json_response(program_json(program, _base_url()))


@blueprint.put("/v1/programs/<int:program_id>/stamp-icon")
@requires(*WRITERS)
def upload_stamp_icon(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_stamp_icon(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.delete("/v1/programs/<int:program_id>/stamp-icon")
@requires(*WRITERS)
def remove_stamp_icon(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_stamp_icon(db(), program=program, image=None)
    return json_response(program_json(program, _base_url()))


@blueprint.post("/v1/programs/<int:program_id>/locations")
@requires(*WRITERS)
def create_location(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(LocationCreate, _body())
    location = merchants.create_location(db(), program=program, data=data)
    return json_response(location_json(location, _base_url()), 201)


@blueprint.get("/v1/programs/<int:program_id>/locations")
@requires(*READERS)
def list_locations(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    locations = [location_json(location, _base_url()) for location in program.locations]
    return json_response({"locations": locations})


@blueprint.get("/v1/programs/<int:program_id>/qr.png")
@requires(*READERS, "cashier")
def program_qr(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    asked = request.args.get("location")
    location = None
    if asked is not None:
        # Anything but an id of one of the program's locations: there is no such location.
        location = merchants.program_location(db(), program=program,
                                              location_id=parse_id(asked))
        if location is None:
            raise NotFound("No such location in this program.")
    location_id = location.id if location is not None else None
    image = qrcode.make(join_url(_base_url(), program, location_id), box_size=12, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), mimetype="image/png")


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "role": key.role, "name": key.name, "location_id": key.location_id,
            "prefix": f"lp_{key.prefix}",
            "created_at": key.created_at.isoformat() + "Z",
            "last_used_at": key.last_used_at.isoformat() + "Z" if key.last_used_at else None,
            "revoked_at": key.revoked_at.isoformat() + "Z" if key.revoked_at else None}


@blueprint.post("/v1/api-keys")
@requires("owner")
def create_api_key() -> Response:
    data = parse(ApiKeyCreate, _body())
    issued = merchants.issue_api_key(db(), merchant_id=merchant_id(), role=data.role,
                                     name=data.name, location_id=data.location_id)
    return json_response({**_key_json(issued.key), "api_key": issued.secret}, 201)


@blueprint.get("/v1/api-keys")
@requires("owner")
def list_api_keys() -> Response:
    keys = merchants.list_api_keys(db(), merchant_id=merchant_id())
    return json_response({"api_keys": [_key_json(key) for key in keys]})


@blueprint.delete("/v1/api-keys/<int:key_id>")
@requires("owner")
def revoke_api_key(key_id: int) -> Response:
    key = merchants.revoke_api_key(db(), merchant_id=merchant_id(), key_id=key_id)
    return json_response(_key_json(key))


@blueprint.post("/v1/programs/<int:program_id>/cards")
@requires(*COUNTER)
def enroll(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(EnrolmentInput, _body())
    enrolment = cards.enroll(db(), program=program, data=data)
    status = 201 if enrolment.created else 200
    return json_response(card_json(enrolment.card, runtime().wallet), status)


@blueprint.get("/v1/cards/<int:card_id>")
@requires(*READERS, "cashier")
def get_card(card_id: int) -> Response:
    card = cards.get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    return json_response(card_json(card, runtime().wallet))


@blueprint.post("/v1/cards/<int:card_id>/link")
@requires(*WRITERS)
def reissue_card_link(card_id: int) -> Response:
    """A new customer link for the card; the old one (and the pass under it) stops working."""
    card = cards.get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    data = parse(CardLinkInput, _body() if request.data else {})
    card = reissue_link(db(), card=card, reset_pass_token=data.reset_pass_token)
    return json_response({"card_url": runtime().wallet.card_url(card)})
