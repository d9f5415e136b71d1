"""The analytics page's charts, drawn from a ``ProgramReport`` (``charts.draw_chart``) in
the member's language: amounts in the program's currency, days as "4 Dec"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from babel.dates import format_skeleton
from babel.numbers import format_compact_decimal

from app.analytics.models import APPLE, GOOGLE
from app.analytics.report import ProgramReport
from app.web.dashboard.analytics_tables import major_units
from app.web.dashboard.charts import Chart, Series, Shape, draw_chart
from app.web.dashboard.forms import lazy_gettext
from app.web.formats import PageFormats


def report_charts(report: ProgramReport, formats: PageFormats) -> list[Chart]:
    days = [row.day for row in report.days]

    def day_label(day: date) -> str:
        return format_skeleton("MMMd", day, locale=formats.locale)

    def count(value: float) -> str:
        return format_compact_decimal(value, locale=formats.locale, fraction_digits=1)

    def money(value: float) -> str:
        """An axis step in the currency's major units, short: 12K, 1,5 тыс."""
        major = major_units(round(value), formats.currency)
        return format_compact_decimal(major, locale=formats.locale, fraction_digits=1)

    def chart(key: str, title: str, shape: Shape, label: Callable[[float], str],
              *series: Series) -> Chart:
        return draw_chart(key=key, title=title, days=days, series=series, shape=shape,
                          value_label=label, day_label=day_label, whole=label is count)

    rows = report.days
    return [
        chart("visits", lazy_gettext("Enrolments and purchases"), Shape.BARS, count,
              Series("enrollments", lazy_gettext("Enrolments"), [r.enrollments for r in rows]),
              Series("purchases", lazy_gettext("Purchases"), [r.purchases for r in rows])),
        chart("turnover", lazy_gettext("Turnover"), Shape.BARS, money,
              Series("turnover", lazy_gettext("Turnover"), [r.turnover for r in rows])),
        chart("check", lazy_gettext("Average check"), Shape.LINE, money,
              Series("average_check", lazy_gettext("Average check"),
                     [r.average_check for r in rows])),
        chart("points", lazy_gettext("Points issued and redeemed"), Shape.LINE, count,
              Series("issued", lazy_gettext("Issued"), [r.points_issued for r in rows]),
              Series("redeemed", lazy_gettext("Redeemed"), [r.points_redeemed for r in rows]),
              Series("expired", lazy_gettext("Expired"), [r.points_expired for r in rows])),
        chart("liability", lazy_gettext("Liability: the points customers hold, at their value"),
              Shape.LINE, money,
              Series("liability", lazy_gettext("Liability"), [r.liability for r in rows])),
        chart("wallets", lazy_gettext("Cards added to and removed from phones"), Shape.BARS,
              count,
              Series("apple_installs", lazy_gettext("Added, Apple Wallet"),
                     [r.installs.get(APPLE, 0) for r in rows]),
              Series("google_installs", lazy_gettext("Added, Google Wallet"),
                     [r.installs.get(GOOGLE, 0) for r in rows]),
              Series("removals", lazy_gettext("Removed"),
                     [sum(r.removals.values()) for r in rows])),
    ]
