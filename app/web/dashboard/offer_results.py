"""The offer page's account of what the offer did (``app.offers.results``): one plain
sentence on spend, the primary metric, in the page's language, and a table of both
groups per customer with the difference of each metric. Formatting only: the figures
come from the service. Texts are lazy: they are read in the page's language when the
template shows them."""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import format_decimal

from app.offers.results import METRICS, PRIMARY_METRIC, OfferResults
from app.offers.welch import Comparison
from app.web.dashboard.forms import lazy_gettext
from app.web.formats import PageFormats

METRIC_NAMES = {"visits": lazy_gettext("Visits (days with a purchase)"),
                "purchases": lazy_gettext("Purchases"),
                "spend": lazy_gettext("Spend, less refunds"),
                "redemptions": lazy_gettext("Redemptions")}
MONEY_METRICS = {"spend"}


@dataclass(frozen=True)
class MetricRow:
    """A metric per customer: each group before and during, the difference with its
    interval, and whether it is significant."""

    name: str
    treated_before: str
    treated_during: str
    control_before: str
    control_during: str
    difference: str
    interval: str
    p_value: str
    significant: bool


@dataclass(frozen=True)
class ResultsShown:
    sentence: str
    measurable: bool  # each group has two customers or more
    significant: bool  # the primary metric's difference
    treated: int
    control: int
    rows: list[MetricRow]


def results_shown(found: OfferResults, fmt: PageFormats) -> ResultsShown:
    rows = [_row(found, metric, fmt) for metric in METRICS]
    spend = found.difference[PRIMARY_METRIC]
    return ResultsShown(_sentence(spend, fmt), spend.p_value is not None, spend.significant,
                        found.treated.customers, found.control.customers, rows)


def _sentence(spend: Comparison, fmt: PageFormats) -> str:
    if spend.p_value is None or spend.ci_low is None or spend.ci_high is None:
        return lazy_gettext("Too few customers to measure the offer's effect yet: it needs at "
                       "least two customers who got it and two held out as a control group.")
    figures = {"amount": fmt.money(abs(round(spend.estimate))),
               "low": fmt.money(round(spend.ci_low)), "high": fmt.money(round(spend.ci_high))}
    if spend.estimate >= 0:
        if spend.significant:
            return lazy_gettext("Customers who got the offer spent %(amount)s more each than the "
                           "control group (95 %%: %(low)s to %(high)s); that is significant.",
                           **figures)
        return lazy_gettext("Customers who got the offer spent %(amount)s more each than the "
                       "control group (95 %%: %(low)s to %(high)s); that is not significant: "
                       "it may be chance.", **figures)
    if spend.significant:
        return lazy_gettext("Customers who got the offer spent %(amount)s less each than the "
                       "control group (95 %%: %(low)s to %(high)s); that is significant.",
                       **figures)
    return lazy_gettext("Customers who got the offer spent %(amount)s less each than the "
                   "control group (95 %%: %(low)s to %(high)s); that is not significant: "
                   "it may be chance.", **figures)


def _row(found: OfferResults, metric: str, fmt: PageFormats) -> MetricRow:
    def shown(value: float | None) -> str:
        if value is None:
            return "–"
        if metric in MONEY_METRICS:
            return fmt.money(round(value))
        return format_decimal(round(value, 2), format="#,##0.##", locale=fmt.locale)

    comparison = found.difference[metric]
    interval = (f"{shown(comparison.ci_low)} … {shown(comparison.ci_high)}"
                if comparison.ci_low is not None else "–")
    p_value = ("–" if comparison.p_value is None else
               format_decimal(comparison.p_value, format="0.###", locale=fmt.locale)
               if comparison.p_value >= 0.001 else "< " + format_decimal(
                   0.001, format="0.###", locale=fmt.locale))
    return MetricRow(METRIC_NAMES[metric],
                     shown(found.treated.means["before"][metric]),
                     shown(found.treated.means["during"][metric]),
                     shown(found.control.means["before"][metric]),
                     shown(found.control.means["during"][metric]),
                     ("+" if comparison.estimate > 0 else "") + shown(comparison.estimate),
                     interval, p_value, comparison.significant)
