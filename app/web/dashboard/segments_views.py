"""A program's customer segments (RFM): how many customers each holds, who is in it, when
they were computed, and a button that computes them now (owners and managers; the
worker does it daily). The computation is ``app.analytics.segments.refresh_segments``, as
``POST /api/v1/programs/{id}/segments/refresh``; a member limited to locations sees the
counts of the cards enrolled at them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.analytics.models import SEGMENTS
from app.analytics.segments import last_refresh, request_refresh, segment_counts
from app.merchants import service as merchants
from app.merchants.access import READERS, WRITERS, Principal
from app.merchants.models import Program
from app.web.context import db
from app.web.dashboard import blueprint, render
from app.web.dashboard.segment_names import SEGMENT_HINTS, SEGMENT_NAMES
from app.web.dashboard.signin import principal_now, staff_required


@dataclass(frozen=True)
class SegmentsShown:
    """What a page shows of a program's segments: counts in ``SEGMENTS`` order."""

    counts: dict[str, int]
    refreshed_at: datetime | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def segments_shown(program: Program, principal: Principal) -> SegmentsShown:
    """The program's segment counts as ``principal`` may see them."""
    if not principal.limited:
        counts = segment_counts(db(), program_id=program.id)
    else:
        counts = dict.fromkeys(SEGMENTS, 0)
        for location_id in sorted(principal.locations):
            for name, count in segment_counts(db(), program_id=program.id,
                                              location_id=location_id).items():
                counts[name] += count
    return SegmentsShown(counts, last_refresh(db(), program_id=program.id))


@blueprint.get("/programs/<int:program_id>/segments")
@staff_required(*READERS)
def segments_page(program_id: int) -> Response:
    principal = principal_now()
    program = merchants.get_program(db(), merchant_id=principal.merchant_id,
                                    program_id=program_id)
    return render("dashboard/segments.html", program=program,
                  shown=segments_shown(program, principal), names=SEGMENT_NAMES,
                  hints=SEGMENT_HINTS, may_write=principal.role in WRITERS,
                  done=request.args.get("done"))


@blueprint.post("/programs/<int:program_id>/segments/refresh")
@staff_required(*WRITERS)
def refresh_program_segments(program_id: int) -> WerkzeugResponse:
    program = merchants.get_program(db(), merchant_id=principal_now().merchant_id,
                                    program_id=program_id)
    done = request_refresh(db(), program_id=program.id)
    return redirect(url_for("dashboard.segments_page", program_id=program.id,
                            done="queued" if done.queued else "refreshed"))
