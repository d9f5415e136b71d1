"""A program's figures over a period: ``GET /api/v1/programs/{id}/stats`` (the contract's).

Query: ``from`` and ``to`` (``YYYY-MM-DD``, UTC days, both included; by default the 30
days that end today), ``location`` (one of the program's locations). A key bound to
locations reads only those: without ``location`` its figures are theirs, and another
location is refused (``location_forbidden``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, request

from app.analytics.stats import ProgramStats, program_stats
from app.clock import utcnow
from app.errors import Invalid, NotFound
from app.merchants import service as merchants
from app.merchants.access import check_location
from app.problem_codes import ProblemCode
from app.validation import MAX_INT32
from app.web.auth import READERS, current_key, merchant_id, requires
from app.web.context import db, json_response
from app.web.openapi import documented, query_parameter, response_doc
from app.web.query_args import int_arg

blueprint = Blueprint("stats", __name__)
DEFAULT_DAYS = 30
MAX_DAYS = 732  # two years and a day: enough to compare a year with the one before
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
STATS_QUERY = (
    {"name": "from", "in": "query", "description": (
        "the first day (UTC, YYYY-MM-DD; default: 29 days before `to`)"),
     "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "description": "the last day, included (default: today)",
     "schema": {"type": "string", "format": "date"}},
    query_parameter("location", "only what happened at this location of the program"),
)


def day_arg(name: str, default: date) -> date:
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise Invalid(f"{name}: a day as YYYY-MM-DD from {EARLIEST} to {LATEST}.",
                      errors=[{"field": name, "message": "a day as YYYY-MM-DD"}])
    return value


def period_args() -> tuple[date, date]:
    end = day_arg("to", min(utcnow().date(), LATEST))
    start = day_arg("from", max(end - timedelta(days=DEFAULT_DAYS - 1), EARLIEST))
    if start > end:
        raise Invalid("from: a day on or before to.",
                      errors=[{"field": "from", "message": "on or before to"}])
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"to: at most {MAX_DAYS} days after from.",
                      errors=[{"field": "to", "message": f"at most {MAX_DAYS} days"}])
    return start, end


@blueprint.get("/v1/programs/<int:program_id>/stats")
@documented(
    "The program's figures over a period: enrolments, customers and visits, sales, points "
    "and their cost, liability, wallets, tiers, segments, and how many cards can be reached",
    {"200": response_doc("the figures", "Stats")}, query=STATS_QUERY,
    refusals=((ProblemCode.NOT_FOUND, "a location that is not one of the program's"),
              (ProblemCode.LOCATION_FORBIDDEN, "a key bound to other locations")),
    note="amounts in minor units; a key bound to locations reads only theirs")
@requires(*READERS)
def get_stats(program_id: int) -> Response:
    start, end = period_args()
    location_id = int_arg("location", None, 1, MAX_INT32)
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    principal = current_key().principal
    if location_id is not None:
        if merchants.program_location(db(), program=program, location_id=location_id) is None:
            raise NotFound("No such location in this program.")
        check_location(principal, location_id, doing="This key reads only the figures of "
                                                     "its own locations.")
    figures = program_stats(db(), program=program, start=start, end=end,
                            location_id=location_id, locations=principal.locations)
    return json_response(stats_json(figures, location_id=location_id,
                                    point_value=program.point_value,
                                    currency=program.currency))


def stats_json(figures: ProgramStats, *, location_id: int | None, point_value: int,
               currency: str) -> dict[str, Any]:
    visits, reach = figures.visits, figures.reach
    return {
        "from": figures.start.isoformat(), "to": figures.end.isoformat(),
        "location": location_id, "currency": currency, "point_value": point_value,
        "enrollments": figures.enrollments, "active_customers_30d":
            visits.active_customers_30d,
        "purchases": figures.purchases, "turnover": figures.turnover,
        "refunded": figures.refunded, "average_check": figures.average_check,
        "points_issued": figures.points_issued, "points_redeemed": figures.points_redeemed,
        "points_expired": figures.points_expired, "points_adjusted": figures.points_adjusted,
        "points_outstanding": figures.points_outstanding, "liability": figures.liability,
        "reward_cost_share": figures.reward_cost_share,
        "installs": figures.installs, "removals": figures.removals, "tiers": figures.tiers,
        "segments": figures.segments,
        "customers": visits.customers, "visits": visits.visits,
        "visit_frequency": visits.frequency,
        "median_days_between_visits": visits.median_days_between_visits,
        "repeat_purchase_share": visits.repeat_share,
        "reachable_share": reach.share,
        "reach": {"cards": reach.cards, "reachable": reach.reachable, "failing": reach.failing,
                  "removed": reach.removed, "never_installed": reach.never_installed},
        "cards_counted_at": (figures.cards_counted_at.isoformat() + "Z"
                             if figures.cards_counted_at is not None else None),
    }
