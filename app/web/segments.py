"""Customer segments (RFM) on demand: ``POST /api/v1/programs/{id}/segments/refresh``.

The worker computes every program's segments daily (``app.delivery.housekeeping``); this
door lets an owner or a manager compute them at once, e.g. before choosing an offer's
audience; a large program's is asked of the worker (202). The computation itself is
``app.analytics.segments.refresh_segments``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from app.analytics.segments import request_refresh
from app.clock import iso
from app.merchants import service as merchants
from app.web.auth import WRITERS, merchant_id, requires
from app.web.context import db, json_response
from app.web.openapi import documented, response_doc

blueprint = Blueprint("segments", __name__)


@blueprint.post("/v1/programs/<int:program_id>/segments/refresh")
@documented(
    "Compute the program's customer segments (RFM) now, as the worker does daily: every "
    "active card with a purchase scored 1-5 on recency, frequency and money and named a "
    "segment; the card JSON's segment and offers' audience.segments read the result. A "
    "program of more than 50,000 cards is computed by the worker within a minute or two: "
    "202, with the last computation's figures",
    {"200": response_doc("how many cards were scored, and when", "SegmentRefresh"),
     "202": response_doc("asked of the worker; the last computation's figures",
                         "SegmentRefresh")})
@requires(*WRITERS)
def refresh(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    done = request_refresh(db(), program_id=program.id)
    return json_response({"program_id": done.program_id, "cards": done.cards,
                          "refreshed_at": iso(done.refreshed_at), "queued": done.queued},
                         202 if done.queued else 200)
