"""The analytics page's tables, as the page shows them and as CSV exports them: one
header and rows of cells per table, built from a ``ProgramReport`` without reading more.

In CSV, amounts are in the currency's major units with a point (``1370.50``), so that a
spreadsheet reads them as numbers, and each amount's header names the currency; shares
are fractions (``0.024``), as the stats API gives them. Text cells the merchant wrote
(tier names) are neutralized against spreadsheet formulas (``app.imports.export``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from babel.numbers import get_currency_precision

from app.analytics.models import WALLETS
from app.analytics.report import ProgramReport
from app.imports.export import neutralized

Cell = str | int | float | Decimal | None


class Table(StrEnum):
    DAYS = "days"
    SUMMARY = "summary"
    TIERS = "tiers"
    SEGMENTS = "segments"


@dataclass(frozen=True)
class Rows:
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def major_units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-get_currency_precision(currency))


def table_rows(report: ProgramReport, table: Table) -> Rows:
    return _BUILDERS[table](report)


def _days(report: ProgramReport) -> Rows:
    currency = report.program.currency
    money = f"({currency})"
    header = ("day", "enrolments", "purchases", f"turnover {money}", f"average check {money}",
              "points issued", "points redeemed", "points expired", f"liability {money}",
              *(f"installs {wallet}" for wallet in WALLETS),
              *(f"removals {wallet}" for wallet in WALLETS))
    rows: list[tuple[Cell, ...]] = [(day.day.isoformat(), day.enrollments, day.purchases,
             major_units(day.turnover, currency), major_units(day.average_check, currency),
             day.points_issued, day.points_redeemed, day.points_expired,
             major_units(day.liability, currency),
             *(day.installs.get(wallet, 0) for wallet in WALLETS),
             *(day.removals.get(wallet, 0) for wallet in WALLETS))
            for day in report.days]
    return Rows(header=header, rows=rows)


def _summary(report: ProgramReport) -> Rows:
    stats, currency = report.stats, report.program.currency
    visits, reach = stats.visits, stats.reach
    figures: list[tuple[Cell, ...]] = [
        ("from", stats.start.isoformat()), ("to", stats.end.isoformat()),
        ("enrolments", stats.enrollments),
        ("active customers in 30 days", visits.active_customers_30d),
        ("customers who bought", visits.customers), ("visits", visits.visits),
        ("visits per customer", visits.frequency),
        ("median days between visits", visits.median_days_between_visits),
        ("repeat purchase share", visits.repeat_share),
        ("purchases", stats.purchases),
        (f"turnover ({currency})", major_units(stats.turnover, currency)),
        (f"refunded ({currency})", major_units(stats.refunded, currency)),
        (f"average check ({currency})", major_units(stats.average_check, currency)),
        ("points issued", stats.points_issued), ("points redeemed", stats.points_redeemed),
        ("points expired", stats.points_expired), ("points adjusted", stats.points_adjusted),
        ("points outstanding", stats.points_outstanding),
        (f"liability ({currency})", major_units(stats.liability, currency)),
        ("reward cost share", stats.reward_cost_share),
        ("reward budget share", report.budget.budget_share),
        *((f"installs {wallet}", stats.installs.get(wallet, 0)) for wallet in WALLETS),
        *((f"removals {wallet}", stats.removals.get(wallet, 0)) for wallet in WALLETS),
        ("cards", reach.cards), ("reachable now", reach.reachable),
        ("pushes failing", reach.failing), ("removed", reach.removed),
        ("never installed", reach.never_installed), ("reachable share", reach.share),
    ]
    return Rows(header=("figure", "value"), rows=figures)


def _counts(counts: dict[str, int], name: str) -> Rows:
    return Rows(header=(name, "cards"),
                rows=[(neutralized(key), count) for key, count in sorted(counts.items())])


_BUILDERS: dict[Table, Callable[[ProgramReport], Rows]] = {
    Table.DAYS: _days, Table.SUMMARY: _summary,
    Table.TIERS: lambda report: _counts(report.stats.tiers, "tier"),
    Table.SEGMENTS: lambda report: _counts(report.segments, "segment"),
}


def csv_lines(rows: Rows) -> Iterator[str]:
    """The table as CSV lines (RFC 4180, CRLF), the header first."""
    for cells in (rows.header, *rows.rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(
            [_csv_cell(cell) for cell in cells])
        yield buffer.getvalue()


def _csv_cell(cell: Cell) -> str:
    if cell is None:
        return ""
    return f"{cell:.6g}" if isinstance(cell, float) else str(cell)
