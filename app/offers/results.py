"""What an offer did: its treated and control groups compared (``GET
/api/v1/offers/{id}/results``, the offer's page).

Each card the offer was published to has its own window: it starts when the offer
reached the card (``card_offers.created_at``) and lasts the offer's length (``ends_at −
starts_at``; an offer without an end runs until now), cut at now; the span before it is
as long. Automatic offers, which reach cards one at a time, are measured the same way.
Cards held out (the control group, ``audience.holdout_percent``) have the same windows.

Per customer, during the window and before it: visits (UTC days with a purchase),
purchases, spend (amounts less what was refunded of them, in minor units) and
redemptions (``redeem`` ledger entries). The per-card figures and the per-group count,
sum and sum of squares of each change (during − before) are computed in SQL on the
database (no rows are loaded into Python; SQLite has no ``var_samp``, so the variance is
formed from the sums, ``app.offers.welch``). Times are compared as seconds since the
epoch (on SQLite from ``julianday``, exact to the millisecond).

The effect on each metric is the difference in differences with Welch's t-test
(``app.offers.welch``); the answer's top-level ``significant`` is that of the primary
metric, spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from app.clock import to_microseconds, utcnow
from app.ledger.models import LedgerEntry, Purchase
from app.offers.models import CardOffer, Offer
from app.offers.welch import CONFIDENCE, Comparison, Moments, welch

METRICS = ("visits", "purchases", "spend", "redemptions")
PRIMARY_METRIC = "spend"
PERIODS = ("before", "during")


class epoch_seconds(FunctionElement[float]):
    """A stored naive-UTC timestamp as seconds since the epoch, as a double."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return (f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) "
            "AS DOUBLE PRECISION)")


@compiles(epoch_seconds)
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@dataclass(frozen=True)
class GroupFigures:
    """A group's size and, per period and metric, the mean per customer."""

    customers: int
    means: dict[str, dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {"customers": self.customers,
                **{period: {metric: round(value, 4) for metric, value in by_metric.items()}
                   for period, by_metric in self.means.items()}}


@dataclass(frozen=True)
class OfferResults:
    treated: GroupFigures
    control: GroupFigures
    difference: dict[str, Comparison]

    @property
    def significant(self) -> bool:
        return self.difference[PRIMARY_METRIC].significant

    def as_dict(self) -> dict[str, Any]:
        difference: dict[str, Any] = {"primary_metric": PRIMARY_METRIC,
                                      "confidence": CONFIDENCE}
        for metric, comparison in self.difference.items():
            difference[metric] = {
                "estimate": round(comparison.estimate, 4),
                "ci_low": _rounded(comparison.ci_low), "ci_high": _rounded(comparison.ci_high),
                "p_value": comparison.p_value, "significant": comparison.significant}
        return {"treated": self.treated.as_dict(), "control": self.control.as_dict(),
                "difference": difference, "significant": self.significant}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def window_seconds(offer: Offer, now: datetime) -> float:
    """The length of each card's window: the offer's, or up to now without an end."""
    end = offer.ends_at if offer.ends_at is not None else now
    return max(0.0, (end - offer.starts_at).total_seconds())


def offer_results(session: Session, *, offer: Offer, now: datetime | None = None
                  ) -> OfferResults:
    """The offer's treated and control groups compared (a draft: empty groups)."""
    now = now or utcnow()
    per_card = _per_card(offer.id, window_seconds(offer, now),
                         to_microseconds(now) / 1_000_000).subquery("per_card")
    columns: list[Any] = [per_card.c.held_out, func.count().label("customers")]
    for metric in METRICS:
        before, during = per_card.c[f"{metric}_before"], per_card.c[f"{metric}_during"]
        change = during - before
        columns += [func.coalesce(func.sum(before), 0).label(f"{metric}_before"),
                    func.coalesce(func.sum(during), 0).label(f"{metric}_during"),
                    func.coalesce(func.sum(change), 0).label(f"{metric}_change"),
                    func.coalesce(func.sum(cast(change, Float) * change), 0)
                    .label(f"{metric}_squares")]
    rows = {bool(row.held_out): row for row in
            session.execute(select(*columns).group_by(per_card.c.held_out))}
    treated, control = rows.get(False), rows.get(True)
    difference = {metric: welch(_moments(treated, metric), _moments(control, metric))
                  for metric in METRICS}
    return OfferResults(_group(treated), _group(control), difference)


def _per_card(offer_id: int, length: float, now_seconds: float) -> Any:
    """One row per card the offer was published to: each metric before and during."""
    start = epoch_seconds(CardOffer.created_at)
    stop = case((start + length < now_seconds, start + length), else_=literal(now_seconds))
    begin = 2 * start - stop
    at = epoch_seconds(Purchase.created_at)
    during, before = and_(at >= start, at < stop), and_(at >= begin, at < start)
    day = func.date(Purchase.created_at)
    spend = Purchase.amount - Purchase.refunded_amount
    redeemed = _redemptions(offer_id, start, stop, begin)
    return (
        select(CardOffer.card_id, CardOffer.held_out,
               func.count(func.distinct(case((before, day)))).label("visits_before"),
               func.count(func.distinct(case((during, day)))).label("visits_during"),
               func.sum(case((before, 1), else_=0)).label("purchases_before"),
               func.sum(case((during, 1), else_=0)).label("purchases_during"),
               func.sum(case((before, spend), else_=0)).label("spend_before"),
               func.sum(case((during, spend), else_=0)).label("spend_during"),
               func.coalesce(redeemed.c.before, 0).label("redemptions_before"),
               func.coalesce(redeemed.c.during, 0).label("redemptions_during"))
        .select_from(CardOffer)
        .outerjoin(Purchase, and_(Purchase.card_id == CardOffer.card_id, at >= begin,
                                  at < stop))
        .outerjoin(redeemed, redeemed.c.card_id == CardOffer.card_id)
        .where(CardOffer.offer_id == offer_id)
        .group_by(CardOffer.card_id, CardOffer.held_out, redeemed.c.before,
                  redeemed.c.during))


def _redemptions(offer_id: int, start: Any, stop: Any, begin: Any) -> Any:
    at = epoch_seconds(LedgerEntry.created_at)
    return (
        select(CardOffer.card_id,
               func.sum(case((and_(at >= begin, at < start), 1), else_=0)).label("before"),
               func.sum(case((and_(at >= start, at < stop), 1), else_=0)).label("during"))
        .select_from(CardOffer)
        .join(LedgerEntry, and_(LedgerEntry.card_id == CardOffer.card_id,
                                LedgerEntry.kind == "redeem", at >= begin, at < stop))
        .where(CardOffer.offer_id == offer_id)
        .group_by(CardOffer.card_id).subquery("redeemed"))


def _moments(row: Any, metric: str) -> Moments:
    if row is None:
        return Moments(0, 0.0, 0.0)
    return Moments(int(row.customers), float(getattr(row, f"{metric}_change")),
                   float(getattr(row, f"{metric}_squares")))


def _group(row: Any) -> GroupFigures:
    customers = int(row.customers) if row is not None else 0
    means = {period: {metric: (float(getattr(row, f"{metric}_{period}")) / customers
                               if customers else 0.0) for metric in METRICS}
             for period in PERIODS}
    return GroupFigures(customers, means)
