"""A program's automatic offers (``/api/v1/programs/{id}/automations``): read by the
roles that read, set by those that write, through ``app.automations.service``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from app.automations import service as automations
from app.automations.schemas import AutomationsInput
from app.errors import BadRequest
from app.merchants import service as merchants
from app.problem_codes import ProblemCode
from app.validation import parse
from app.web.auth import READERS, WRITERS, merchant_id, requires
from app.web.context import db, json_response
from app.web.openapi import documented, response_doc

blueprint = Blueprint("automations", __name__)
AUTOMATIONS = response_doc("the program's automatic offers", "Automations")


def _body() -> Any:
    data = request.get_json(silent=True) if request.data else None
    if data is None:
        raise BadRequest("The request needs a JSON object as its body.",
                         code=ProblemCode.MALFORMED_BODY)
    return data


@blueprint.get("/v1/programs/<int:program_id>/automations")
@documented("The program's automatic offers: its weekly cap, its pause over budget and "
            "its four rules (a rule never set reads as off, with its defaults)",
            {"200": AUTOMATIONS})
@requires(*READERS)
def get_automations(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    return json_response(automations.automations_json(
        automations.automations_of(db(), program=program)))


@blueprint.put("/v1/programs/<int:program_id>/automations")
@documented("Set the program's automatic offers: what is sent is changed, what is left "
            "out keeps its value; a rule switched on needs its title",
            {"200": AUTOMATIONS}, body=AutomationsInput,
            refusals=((ProblemCode.INVALID, "a rule switched on without a title, or a text "
                                            "in a language the program lacks"),))
@requires(*WRITERS)
def put_automations(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    data = parse(AutomationsInput, _body())
    return json_response(automations.automations_json(
        automations.save_automations(db(), program=program, data=data)))
