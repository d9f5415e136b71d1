"""Offers: created for a program, published to its audience (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from app.errors import BadRequest
from app.merchants import service as merchants
from app.offers import reach, results, schedule
from app.offers import service as offers
from app.offers.schemas import OfferCreate
from app.problem_codes import ProblemCode
from app.validation import parse
from app.web.auth import READERS, WRITERS, merchant_id, requires
from app.web.context import db, json_response
from app.web.openapi import documented, response_doc

blueprint = Blueprint("offers", __name__)
OFFER = response_doc("the offer", "Offer")


def _body() -> Any:
    data = request.get_json(silent=True) if request.data else None
    if data is None:
        raise BadRequest("The request needs a JSON object as its body.",
                         code=ProblemCode.MALFORMED_BODY)
    return data


@blueprint.post("/v1/programs/<int:program_id>/offers")
@documented("Create an offer (a draft) for the program's audience", {"201": OFFER},
            body=OfferCreate,
            refusals=(ProblemCode.UNKNOWN_SEGMENT, (ProblemCode.INVALID, "an unknown tier")))
@requires(*WRITERS)
def create_offer(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    offer = offers.create_offer(db(), program=program, data=parse(OfferCreate, _body()))
    return json_response(offers.offer_json(offer), 201)


@blueprint.get("/v1/programs/<int:program_id>/offers")
@documented("The program's offers, newest first", {"200": response_doc("offers", "Offers")})
@requires(*READERS)
def list_offers(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    return json_response({"offers": [offers.offer_json(offer)
                                     for offer in offers.list_offers(db(), program=program)]})


@blueprint.get("/v1/offers/<int:offer_id>")
@documented("An offer", {"200": OFFER})
@requires(*READERS)
def get_offer(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=merchant_id(), offer_id=offer_id)
    return json_response(offers.offer_json(offer))


@blueprint.post("/v1/offers/<int:offer_id>/publish")
@documented(
    "Publish: the offer appears on every targeted pass and their devices are pushed; an "
    "offer that starts later is `scheduled` and the worker publishes it when it starts",
    {"202": response_doc("how many cards it reached (0 while scheduled)", "Published")},
    refusals=(ProblemCode.OFFER_PUBLISHED, ProblemCode.OFFER_ENDED))
@requires(*WRITERS)
def publish_offer(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=merchant_id(), offer_id=offer_id)
    published = offers.publish(db(), offer=offer)
    return json_response({"cards": published.cards, "status": published.status}, 202)


@blueprint.post("/v1/offers/<int:offer_id>/end")
@documented(
    "End the offer now: it leaves every pass it was on and those passes are pushed (a "
    "scheduled offer is never published)",
    {"200": response_doc("the offer, ended, and how many passes it left", "EndedOffer")},
    refusals=(ProblemCode.OFFER_NOT_PUBLISHED, ProblemCode.OFFER_ENDED))
@requires(*WRITERS)
def end_offer(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=merchant_id(), offer_id=offer_id)
    passes = schedule.end_offer(db(), offer=offer)
    return json_response({**offers.offer_json(offer), "passes": passes})


@blueprint.get("/v1/offers/<int:offer_id>/reach")
@documented(
    "How far a published offer got: cards reached, their devices, pushes and Google "
    "messages sent, failed (parked) and pending (a draft: all zero)",
    {"200": response_doc("the offer's reach", "OfferReach")})
@requires(*READERS)
def offer_reach(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=merchant_id(), offer_id=offer_id)
    return json_response(reach.offer_reach(db(), offer=offer).as_dict())


@blueprint.get("/v1/offers/<int:offer_id>/results")
@documented(
    "What the offer did: per customer, the treated and control groups' visits, purchases, "
    "spend and redemptions during each card's window and the same span before it; the "
    "difference in differences per metric with its 95 % interval and Welch's p-value; "
    "top-level `significant` is the primary metric's (spend)",
    {"200": response_doc("the offer's results", "OfferResults")})
@requires(*READERS)
def offer_results(offer_id: int) -> Response:
    offer = offers.get_offer(db(), merchant_id=merchant_id(), offer_id=offer_id)
    return json_response(results.offer_results(db(), offer=offer).as_dict())
