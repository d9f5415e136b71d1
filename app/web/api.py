"""The merchant and POS JSON API under ``/api/v1``, and its OpenAPI description."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from app.analytics.segments import card_scores
from app.cards import search
from app.cards import service as cards
from app.cards.links import reissue_link
from app.cards.schemas import CardLinkInput, MerchantEnrolmentInput
from app.cards.search_terms import PHONE_MIN_DIGITS
from app.errors import BadRequest
from app.merchants import service as merchants
from app.merchants.access import location_of, sees_customers_whole
from app.merchants.accounts import Where
from app.merchants.artwork import set_stamp_icon, set_strip
from app.merchants.logos import set_logo
from app.merchants.models import ApiKey
from app.merchants.schemas import ApiKeyCreate, LocationCreate, ProgramCreate, ProgramUpdate
from app.problem_codes import ProblemCode
from app.validation import LINE_PATTERN, MAX_INT32, parse
from app.web.auth import (
    COUNTER,
    READERS,
    WRITERS,
    current_key,
    key_actor,
    merchant_id,
    requires,
)
from app.web.context import db, json_response, runtime
from app.web.json_shapes import card_json, location_json, program_json, with_segment
from app.web.limits import client_address
from app.web.openapi import documented, openapi_document, query_parameter, response_doc
from app.web.query_args import int_arg, text_arg

blueprint = Blueprint("api", __name__)
PROGRAM, CARD = response_doc("the program", "Program"), response_doc("the card", "Card")


def _body() -> Any:
    if not request.data:
        raise BadRequest("The request needs a JSON body.", code=ProblemCode.MALFORMED_BODY)
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.", code=ProblemCode.MALFORMED_BODY)
    return data


def _base_url() -> str:
    return runtime().config.base_url


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return json_response(openapi_document(_base_url(), current_app))


@blueprint.post("/v1/programs")
@documented("Create a program", {"201": PROGRAM}, body=ProgramCreate,
            refusals=(ProblemCode.SLUG_TAKEN,))
@requires(*WRITERS)
def create_program() -> Response:
    data = parse(ProgramCreate, _body())
    program = merchants.create_program(db(), merchant_id=merchant_id(), data=data)
    return json_response(program_json(program, _base_url()), 201,
                 {"Location": f"/api/v1/programs/{program.id}"})


@blueprint.get("/v1/programs")
@documented("List programs", {"200": response_doc("programs", "Programs")})
@requires(*READERS)
def list_programs() -> Response:
    programs = merchants.list_programs(db(), merchant_id=merchant_id())
    return json_response({"programs": [program_json(p, _base_url()) for p in programs]})


@blueprint.get("/v1/programs/<int:program_id>")
@documented("Get a program", {"200": PROGRAM})
@requires(*READERS)
def get_program(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    return json_response(program_json(program, _base_url()))


@blueprint.patch("/v1/programs/<int:program_id>")
@documented("Change a program", {"200": PROGRAM}, body=ProgramUpdate)
@requires(*WRITERS)
def update_program(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(ProgramUpdate, _body())
    program = merchants.update_program(db(), program=program, data=data)
    return json_response(program_json(program, _base_url()))


IMAGE_BODY = {"required": True, "content": {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("image/png", "image/jpeg")}}
IMAGE_REFUSED = ((ProblemCode.INVALID,
                  "not a readable PNG or JPEG, or too small or large (errors: (body))"),)


@blueprint.put("/v1/programs/<int:program_id>/logo")
@documented(
    "Upload the program's logo: a PNG or JPEG of 16 to 4096 pixels a side, decoded in full",
    {"200": PROGRAM}, raw_body=IMAGE_BODY, refusals=IMAGE_REFUSED)
@requires(*WRITERS)
def upload_logo(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_logo(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.put("/v1/programs/<int:program_id>/strip")
@documented("Upload the program's strip photo (behind the pass's balance): a PNG or JPEG of "
            "at least 375x123 pixels and at most 5 MiB; every pass is redrawn with it",
            {"200": PROGRAM}, raw_body=IMAGE_BODY, refusals=IMAGE_REFUSED)
@requires(*WRITERS)
def upload_strip(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_strip(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.delete("/v1/programs/<int:program_id>/strip")
@documented("Remove the program's strip photo: the passes return to the drawn strip",
            {"200": PROGRAM})
@requires(*WRITERS)
def remove_strip(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_strip(db(), program=program, image=None)
    return json_response(program_json(program, _base_url()))


@blueprint.put("/v1/programs/<int:program_id>/stamp-icon")
@documented("Upload the stamp icon drawn in each stamp of a stamp card's strip: a PNG or "
            "JPEG; every pass is redrawn with it",
            {"200": PROGRAM}, raw_body=IMAGE_BODY, refusals=IMAGE_REFUSED)
@requires(*WRITERS)
def upload_stamp_icon(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_stamp_icon(db(), program=program, image=request.get_data())
    return json_response(program_json(program, _base_url()))


@blueprint.delete("/v1/programs/<int:program_id>/stamp-icon")
@documented("Remove the stamp icon: the stamps return to the drawn cup", {"200": PROGRAM})
@requires(*WRITERS)
def remove_stamp_icon(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    set_stamp_icon(db(), program=program, image=None)
    return json_response(program_json(program, _base_url()))


@blueprint.post("/v1/programs/<int:program_id>/locations")
@documented("Add a location", {"201": response_doc("location", "Location")},
            body=LocationCreate)
@requires(*WRITERS)
def create_location(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(LocationCreate, _body())
    location = merchants.create_location(db(), program=program, data=data)
    return json_response(location_json(location, _base_url()), 201)


@blueprint.get("/v1/programs/<int:program_id>/locations")
@documented("List locations", {"200": response_doc("locations", "Locations")})
@requires(*READERS)
def list_locations(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    locations = [location_json(location, _base_url()) for location in program.locations]
    return json_response({"locations": locations})


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "role": key.role, "name": key.name, "location_id": key.location_id,
            "prefix": f"lp_{key.prefix}",
            "created_at": key.created_at.isoformat() + "Z",
            "last_used_at": key.last_used_at.isoformat() + "Z" if key.last_used_at else None,
            "revoked_at": key.revoked_at.isoformat() + "Z" if key.revoked_at else None}


@blueprint.post("/v1/api-keys")
@documented("Issue a key with a role; the key is shown once",
            {"201": response_doc("the key, with api_key", "NewApiKey")}, body=ApiKeyCreate,
            refusals=((ProblemCode.NOT_FOUND, "no such location"),))
@requires("owner")
def create_api_key() -> Response:
    data = parse(ApiKeyCreate, _body())
    issued = merchants.issue_api_key(db(), merchant_id=merchant_id(), role=data.role,
                                     name=data.name, location_id=data.location_id,
                                     by=current_key().principal,
                                     where=Where(address=client_address()))
    return json_response({**_key_json(issued.key), "api_key": issued.secret}, 201)


@blueprint.get("/v1/api-keys")
@documented("List keys (no secrets)", {"200": response_doc("keys", "ApiKeys")})
@requires("owner")
def list_api_keys() -> Response:
    keys = merchants.list_api_keys(db(), merchant_id=merchant_id())
    return json_response({"api_keys": [_key_json(key) for key in keys]})


@blueprint.delete("/v1/api-keys/<int:key_id>")
@documented("Revoke a key", {"200": response_doc("the key", "ApiKey")})
@requires("owner")
def revoke_api_key(key_id: int) -> Response:
    key = merchants.revoke_api_key(db(), merchant_id=merchant_id(), key_id=key_id,
                                   by=current_key().principal,
                                   where=Where(address=client_address()))
    return json_response(_key_json(key))


@blueprint.post("/v1/programs/<int:program_id>/cards")
@documented(
    "Enrol a customer (the merchant's own key: a card already enrolled with this email or "
    "phone is returned; the public join form never does that). A new card records where "
    "the customer joined, as a join link does: location_id (one of the program's "
    "locations) and source (a campaign tag, the rule of ?src=); a card already enrolled "
    "keeps its own. A key bound to a location enrols there, whether it names it or not, "
    "and may name no other (403 location_forbidden)",
    {"201": response_doc("new card", "Card"),
     "200": response_doc("the card already enrolled with this email or phone", "Card")},
    body=MerchantEnrolmentInput,
    refusals=((ProblemCode.UNKNOWN_LOCATION,
               "location_id is not one of the program's locations"),))
@requires(*COUNTER)
def enroll(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(MerchantEnrolmentInput, _body())
    where = location_of(current_key().principal, data.location_id,
                        doing="This key enrols customers at its own location only.")
    enrolment = cards.enroll(db(), program=program, data=data, location_id=where,
                             source=data.source)
    status = 201 if enrolment.created else 200
    return json_response(card_json(enrolment.card, runtime().wallet), status)


SEARCH_QUERY = (
    {"name": "q", "in": "query", "description": (
        "a name or part of one (every word a fragment of it, any case, any script), part of "
        "an email, a phone number as typed (read with the program's country; its last "
        f"{PHONE_MIN_DIGITS} or more digits are enough), or a card number with or without "
        "its spaces, or the old number a card was imported with; absent or blank: every card"),
     "schema": {"type": "string", "maxLength": search.MAX_QUERY_LENGTH,
                "pattern": LINE_PATTERN}},
    query_parameter("limit", f"page size (default {search.DEFAULT_LIMIT})", 1,
                    search.MAX_LIMIT),
    query_parameter("before", "the next of the previous page: cards with lower ids"))


@blueprint.get("/v1/programs/<int:program_id>/cards")
@documented(
    "Find the program's cards by name, email, phone or card number, newest first",
    {"200": response_doc("a page of cards, and the next page's before", "Cards")},
    query=SEARCH_QUERY,
    note="a key bound to a location finds the cards enrolled there only; analyst keys see "
         "each customer's email and phone masked, no birthday, and no card link, pass "
         "download or barcode message")
@requires(*READERS)
def search_cards(program_id: int) -> Response:
    limit = int_arg("limit", search.DEFAULT_LIMIT, 1, search.MAX_LIMIT)
    before = int_arg("before", None, 1, MAX_INT32)
    query = text_arg("q", search.MAX_QUERY_LENGTH)
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    key = current_key()
    page = search.search_cards(db(), program=program, query=query, limit=limit,
                               before=before, locations=key.principal.locations)
    masked = not sees_customers_whole(key.role)
    scores = card_scores(db(), card_ids=[card.id for card in page.cards])
    return json_response({"cards": [with_segment(card_json(card, runtime().wallet, masked=masked),
                                                  scores.get(card.id))
                                    for card in page.cards], "next": page.next})


@blueprint.get("/v1/cards/<int:card_id>")
@documented("Get a card", {"200": CARD},
            note="analyst keys see the customer's email and phone masked, no birthday, and "
                 "no card link, pass download or barcode message")
@requires(*READERS, "cashier")
def get_card(card_id: int) -> Response:
    card = cards.get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    body = card_json(card, runtime().wallet, masked=not sees_customers_whole(current_key().role))
    return json_response(with_segment(body, card_scores(db(), card_ids=[card.id]).get(card.id)))


@blueprint.post("/v1/cards/<int:card_id>/link")
@documented(
    "Give the card a new customer link: the old card_url and the pass download under it "
    "stop working at once, and the pass is bumped so that it carries the new link. The "
    "body may be left out.",
    {"200": response_doc("the new card_url", "CardLink")}, body=CardLinkInput,
    body_optional=True, refusals=((ProblemCode.LOCATION_FORBIDDEN,
                                   "a key bound to a location, for a card enrolled at another "
                                   "location or at none (nothing changed)"),))
@requires(*WRITERS)
def reissue_card_link(card_id: int) -> Response:
    """A new customer link for the card; the old one (and the pass under it) stops working."""
    data = parse(CardLinkInput, _body() if request.data else {})
    card = reissue_link(db(), actor=key_actor(), card_id=card_id,
                        reset_pass_token=data.reset_pass_token)
    return json_response({"card_url": runtime().wallet.card_url(card)})
