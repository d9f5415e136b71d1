"""The analytics page: a program's figures over a period, at all or one of its locations,
with charts, the reward budget line, tables and their CSV export.

The figures are the stats API's (``app.analytics.stats``, read through
``app.analytics.report``), with the same period and location rules
(``app.web.stats.period_args``): a member limited to locations reads theirs only, and
another location is refused. A bad period keeps the page: it says what is wrong and shows
the last 30 days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.analytics.report import ProgramReport, program_report
from app.clock import utcnow
from app.errors import Invalid, NotFound
from app.merchants import service as merchants
from app.merchants.access import READERS, check_location
from app.merchants.models import Location, Program
from app.texts import tier_name
from app.validation import MAX_INT32
from app.web.context import db
from app.web.dashboard import blueprint, dashboard_locale, render
from app.web.dashboard.analytics_charts import report_charts
from app.web.dashboard.analytics_tables import Table, csv_lines, table_rows
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.segment_names import SEGMENT_NAMES
from app.web.dashboard.signin import principal_now, staff_required
from app.web.formats import page_formats
from app.web.query_args import int_arg
from app.web.stats import DEFAULT_DAYS, period_args

# The quick choices above the dates: the last N days ending today.
SPANS = ((7, lazy_gettext("7 days")), (DEFAULT_DAYS, lazy_gettext("30 days")),
         (90, lazy_gettext("90 days")), (365, lazy_gettext("A year")))
BUDGET_SCALE = 1.5  # the meter reaches one and a half budgets
BAD_PERIOD = lazy_gettext("These dates cannot be used: the first day must come before the last, "
                          "at most two years apart. Here are the last 30 days.")


@dataclass(frozen=True)
class Share:
    """One bar of a count list (tiers, segments): its name, cards and share of them."""

    label: str
    count: int
    fraction: float


@dataclass(frozen=True)
class SpanLink:
    label: str
    start: date
    end: date


def shares(counts: dict[str, int], name_of: Callable[[str], str]) -> list[Share]:
    """The counts, largest first, each with its share of the whole."""
    total = sum(counts.values())
    return [Share(label=name_of(key), count=count, fraction=count / total if total else 0)
            for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def budget_fill(report: ProgramReport) -> float:
    """How far the budget meter fills, in percent: the budget is drawn at two thirds of it,
    so that an overrun of up to half the budget shows how far over it is."""
    share, budget = report.budget.share or 0, report.budget.budget_share
    if budget <= 0:
        return 100.0 if share > 0 else 0.0
    return min(share / (budget * BUDGET_SCALE), 1.0) * 100


def _visible_locations(program: Program) -> list[Location]:
    principal = principal_now()
    return [location for location in program.locations
            if not principal.limited or location.id in principal.locations]


def _report(program_id: int, start: date, end: date) -> ProgramReport:
    principal = principal_now()
    program = merchants.get_program(db(), merchant_id=principal.merchant_id,
                                    program_id=program_id)
    location_id = int_arg("location", None, 1, MAX_INT32)
    if location_id is not None:
        if merchants.program_location(db(), program=program, location_id=location_id) is None:
            raise NotFound("No such location in this program.")
        check_location(principal, location_id, doing="You read only the figures of your "
                                                     "own locations.")
    return program_report(db(), program=program, start=start, end=end,
                          location_id=location_id, locations=principal.locations)


@blueprint.get("/programs/<int:program_id>/analytics")
@staff_required(*READERS)
def analytics(program_id: int) -> Response:
    problem, status = None, 200
    try:
        start, end = period_args()
    except Invalid:
        problem, status = BAD_PERIOD, 422
        end = utcnow().date()
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    report = _report(program_id, start, end)
    program, locale = report.program, dashboard_locale()
    formats = page_formats(locale, program.currency)
    today = utcnow().date()
    return render(
        "dashboard/analytics.html", status=status, report=report, stats=report.stats,
        formats=formats, problem=problem, charts=report_charts(report, formats),
        locations=_visible_locations(program), location_id=request.args.get("location", ""),
        tables=Table, budget_fill=budget_fill(report), budget_mark=100 / BUDGET_SCALE,
        spans=[SpanLink(label, today - timedelta(days=days - 1), today) for days, label in SPANS],
        tier_shares=shares(report.stats.tiers, lambda key: tier_name(
            program.tiers, key, locale, program.locales) or key),
        segment_shares=shares(report.segments, lambda key: str(SEGMENT_NAMES.get(key, key))))


@blueprint.get("/programs/<int:program_id>/analytics/<table>.csv")
@staff_required(*READERS)
def analytics_csv(program_id: int, table: str) -> Response:
    if table not in Table.__members__.values():
        raise NotFound("No such table.")
    start, end = period_args()
    report = _report(program_id, start, end)
    response = Response(csv_lines(table_rows(report, Table(table))), mimetype="text/csv")
    name = f"{report.program.slug}-{table}-{start.isoformat()}-{end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/analytics")
@staff_required(*READERS)
def analytics_home() -> WerkzeugResponse:
    """The navigation's "Analytics": the first program's page (the home, with none)."""
    programs = merchants.list_programs(db(), merchant_id=principal_now().merchant_id)
    if not programs:
        return redirect(url_for("dashboard.home"))
    return redirect(url_for("dashboard.analytics", program_id=programs[0].id))
