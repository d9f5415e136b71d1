"""Customers in and out as CSV under ``/api/v1``: the import (its preview with
``dry_run=true``) and the export (``app.imports``)."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from app.imports import service as imports
from app.imports.export import export_cards
from app.imports.sheet import MAX_BYTES, MAX_ROWS
from app.merchants import service as merchants
from app.problem_codes import ProblemCode
from app.web.auth import READERS, WRITERS, key_actor, merchant_id, requires
from app.web.context import db, json_response, runtime
from app.web.openapi import documented, response_doc

blueprint = Blueprint("imports", __name__)
CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")
LIMIT_SAID = f"the body is over {MAX_BYTES // (1024 * 1024)} MiB"
FLAGS = {
    "dry_run": "true: only the preview (counts and every row's problems); nothing is written",
    "skip_invalid": "true: import the rows without problems and leave the others out "
                    "(default: a file with problems imports nothing)",
    "welcome": "true: give each new card the program's welcome points too (default: the "
               "opening balance only)",
}
FLAG_QUERY = tuple({"name": name, "in": "query", "description": said,
                    "schema": {"enum": ["true", "false"]}} for name, said in FLAGS.items())
CSV_BODY = {"required": True, "content": {media: {"schema": {"type": "string"}}
                                          for media in CSV_TYPES}}



def _flag(name: str) -> bool:
    value = request.args.get(name, "false")
    if value not in ("true", "false"):
        raise Invalid(f"{name}: true or false.",
                      errors=[{"field": name, "message": "true or false"}])
    return value == "true"


def _csv_body() -> bytes:
    """The uploaded file: ``import_too_large`` past ``MAX_BYTES``, 415 for a body that
    says it is not CSV (a workbook, JSON)."""
    too_large = PayloadTooLarge(f"The file may be at most {MAX_BYTES // (1024 * 1024)} MiB "
                                f"and {MAX_ROWS:,} rows; split it.",
                                code=ProblemCode.IMPORT_TOO_LARGE)
    request.max_content_length = MAX_BYTES
    if (request.content_length or 0) > MAX_BYTES:
        raise too_large
    if request.mimetype not in CSV_TYPES:
        raise UnsupportedMediaType("Send the file as text/csv (save the sheet as CSV UTF-8).")
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    if not data.strip():
        raise Invalid("The file is empty.", code=ProblemCode.CSV_UNREADABLE,
                      errors=[{"field": "(body)", "message": "empty"}])
    return data


@blueprint.post("/v1/programs/<int:program_id>/imports")
@documented(
    "Import customers from a CSV file (columns name, phone, email, birthday, consent, old "
    "card number, balance), or with dry_run=true preview it: every row's problems, before "
    "anything is written",
    {"200": response_doc("the preview (dry_run=true)", "ImportPreview"),
     "201": response_doc("what was imported", "ImportSummary")},
    raw_body=CSV_BODY, query=FLAG_QUERY,
    too_large=(ProblemCode.IMPORT_TOO_LARGE, LIMIT_SAID),
    refusals=(ProblemCode.CSV_UNREADABLE, ProblemCode.IMPORT_HAS_PROBLEMS,
              ProblemCode.IMPORT_CONFLICT,
              (ProblemCode.UNSUPPORTED_MEDIA_TYPE, "a body that is not CSV text")),
    note="one transaction: all of the file (or its rows without problems, with "
         "skip_invalid=true) or nothing")
@requires(*WRITERS)
def import_cards(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    dry_run, skip_invalid, welcome = (_flag(name) for name in FLAGS)
    data = _csv_body()
    if dry_run:
        return json_response(imports.preview(db(), program=program, data=data).as_dict())
    imported = imports.import_customers(db(), program=program, data=data, actor=key_actor(),
                                        skip_invalid=skip_invalid, welcome=welcome)
    return json_response(imported.as_dict(), 201)


@blueprint.get("/v1/programs/<int:program_id>/cards.csv")
@documented(
    "Export the program's customers and cards as CSV (the import's columns, then card "
    "number, tier, created and source; phones in E.164; cells a spreadsheet could run as a "
    "formula are written after an apostrophe)",
    {"200": {"description": "CSV, UTF-8 with a byte order mark",
             "content": {"text/csv": {"schema": {"type": "string"}}}}},
    note="a key bound to a location exports the cards enrolled there only; analyst keys "
         "get emails and phones masked and no birthdays, as in the card list")
@requires(*READERS)
def export_cards_csv(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    pieces = export_cards(db(), program=program, actor=key_actor(), sessions=runtime().sessions)
    response = Response(pieces, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{program.slug}-cards.csv"')
    return response
