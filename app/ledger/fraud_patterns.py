"""Fraud patterns beyond the velocity limits (the purchases' here; the cards' in
``app.ledger.fraud_cards``), each read from a range of new rows
(``low`` < id <= ``high``) that the detector (``app.ledger.fraud_detector``) has not
read before, and answered as suspicions (``app.ledger.fraud_evidence.Suspicion``):

- ``repeated_scans``: one cashier records ``same_card_scans_per_day`` purchases or more on
  one card in one UTC day;
- ``threshold_amounts``: a cashier's purchases land just over a bonus threshold far more
  often than just under it (the binomial test below);
- ``redeem_elsewhere``: a card redeems at one location within
  ``redeem_elsewhere_minutes`` after it earned at another;
- ``enrolment_burst``: ``enrolments_per_origin`` cards or more joined from one origin
  (``cards.enrolled_from``) within ``enrolment_window_minutes``.

The new rows only say where to look; each pattern then counts, with aggregates, what
the whole history says there (a day of the card, the cashier's last days, the cards of
an origin), so a pattern that builds up across ranges is still found. The dedupe keys
name the pattern, its subject and its period (a day; a week for the threshold test),
so the same finding is one alert.

The threshold test: a cashier's purchases with an amount paid within a band of the
threshold ``T`` (``threshold_band_percent`` of it, on each side) are counted just over
(``T`` ≤ amount < ``T`` + band) and just under (``T`` − band ≤ amount < ``T``). Amounts
spread smoothly make either side about as likely (a falling spread of amounts makes the
upper side rarer, which only makes the test stricter), so with ``n`` purchases in the
bands the number over is Binomial(n, ½) when nothing is wrong. The alert is raised when
``n`` ≥ ``threshold_min_purchases`` and the one-sided p-value P(X ≥ over) is below
``THRESHOLD_P_VALUE``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from math import comb
from typing import Any

from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import Session

from app.ledger.fraud_evidence import (
    EVIDENCE_LIMIT,
    Cashier,
    Suspicion,
    purchases_listed,
    watched_programs,
)
from app.ledger.models import Purchase
from app.merchants.fraud_thresholds import FraudThresholds

THRESHOLD_P_VALUE = 0.001
SMALLEST_SCAN_COUNT = 2  # the lowest ``same_card_scans_per_day`` a program may set


def binomial_tail(over: int, trials: int) -> float:
    """P(X ≥ ``over``) for X ~ Binomial(``trials``, ½), exactly (integers until the end)."""
    if over <= 0:
        return 1.0
    return float(sum(comb(trials, k) for k in range(over, trials + 1)) / 2 ** trials)


def _purchases_with_cashier(*conditions: Any) -> Subquery:
    """Purchases with their cashier (``api_key_id``, ``staff_id``) and their UTC day."""
    return select(Purchase.id, Purchase.merchant_id, Purchase.program_id, Purchase.card_id,
                  Purchase.api_key_id, Purchase.staff_id, Purchase.location_id,
                  Purchase.amount_paid, Purchase.created_at,
                  func.date(Purchase.created_at).label("day")).where(*conditions).subquery()


def repeated_scans(session: Session, *, low: int, high: int, now: datetime
                   ) -> list[Suspicion]:
    touched = session.execute(
        select(Purchase.card_id, Purchase.program_id,
               func.min(Purchase.created_at).label("since"))
        .where(Purchase.id > low, Purchase.id <= high)
        .group_by(Purchase.card_id, Purchase.program_id)).all()
    programs = watched_programs(session, (row.program_id for row in touched))
    watching = [row for row in touched
                if programs[row.program_id].thresholds.same_card_scans_per_day is not None]
    if not watching:
        return []
    since = datetime.combine(min(row.since for row in watching).date(), time.min)
    scans = _purchases_with_cashier(Purchase.card_id.in_([row.card_id for row in watching]),
                                    Purchase.created_at >= since)
    groups = session.execute(
        select(scans.c.card_id, scans.c.program_id, scans.c.merchant_id,
               scans.c.api_key_id, scans.c.staff_id, scans.c.day,
               func.count().label("scans"), func.max(scans.c.location_id).label("location"))
        .group_by(scans.c.card_id, scans.c.program_id, scans.c.merchant_id,
                  scans.c.api_key_id, scans.c.staff_id, scans.c.day)
        .having(func.count() >= SMALLEST_SCAN_COUNT)).all()
    found = []
    for group in groups:
        limit = programs[group.program_id].thresholds.same_card_scans_per_day
        if limit is None or group.scans < limit:
            continue
        cashier = Cashier(group.api_key_id, group.staff_id)
        ids = session.scalars(select(scans.c.id).where(
            scans.c.card_id == group.card_id, scans.c.day == group.day,
            _same(scans.c.api_key_id, group.api_key_id),
            _same(scans.c.staff_id, group.staff_id)).order_by(scans.c.id)).all()
        found.append(Suspicion(
            merchant_id=group.merchant_id, program_id=group.program_id,
            kind="repeated_scans", card_id=group.card_id, location_id=group.location,
            cashier=cashier,
            detail=(f"{cashier.describe().capitalize()} recorded {group.scans} purchases on "
                    f"this card on {group.day} (UTC); the program's threshold is {limit}."),
            dedupe_key=f"repeated_scans:{group.card_id}:{cashier.key}:{group.day}",
            evidence={"day": str(group.day), "purchases_counted": group.scans,
                      "threshold": limit, "purchases": purchases_listed(session, ids)}))
    return found


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


def threshold_amounts(session: Session, *, low: int, high: int, now: datetime
                      ) -> list[Suspicion]:
    new = _purchases_with_cashier(Purchase.id > low, Purchase.id <= high)
    cashiers = session.execute(select(new.c.program_id, new.c.api_key_id, new.c.staff_id)
                               .distinct()).all()
    programs = watched_programs(session, (row.program_id for row in cashiers))
    found = []
    for row in cashiers:
        program = programs[row.program_id]
        if program.thresholds.threshold_min_purchases is None:
            continue
        for threshold in program.bonus_thresholds:
            suspicion = _threshold_test(session, program.id, program.merchant_id,
                                        Cashier(row.api_key_id, row.staff_id), threshold,
                                        program.thresholds, now)
            if suspicion is not None:
                found.append(suspicion)
    return found


def _threshold_test(session: Session, program_id: int, merchant_id: int, cashier: Cashier,
                    threshold: int, thresholds: FraudThresholds, now: datetime) -> Suspicion | None:
    band = max(1, threshold * thresholds.threshold_band_percent // 100)
    near = _purchases_with_cashier(
        Purchase.program_id == program_id, _same(Purchase.api_key_id, cashier.api_key_id),
        _same(Purchase.staff_id, cashier.staff_id),
        Purchase.created_at >= now - timedelta(days=thresholds.threshold_days),
        Purchase.amount_paid >= threshold - band, Purchase.amount_paid < threshold + band)
    over_side = near.c.amount_paid >= threshold
    counts = session.execute(select(
        func.coalesce(func.sum(case((over_side, 1), else_=0)), 0).label("over"),
        func.count().label("near"))).one()
    trials, over = int(counts.near), int(counts.over)
    least = thresholds.threshold_min_purchases
    if least is None or trials < least:
        return None
    p_value = binomial_tail(over, trials)
    if p_value >= THRESHOLD_P_VALUE:
        return None
    ids = session.scalars(select(near.c.id).where(over_side)
                          .order_by(near.c.id.desc()).limit(EVIDENCE_LIMIT)).all()
    week = now.isocalendar()
    listed = purchases_listed(session, ids)
    # A cashier at one counter: the alert is that location's (a member limited to it sees it).
    places = {purchase["location_id"] for purchase in listed}
    return Suspicion(
        merchant_id=merchant_id, program_id=program_id, kind="threshold_amounts",
        cashier=cashier, location_id=places.pop() if len(places) == 1 else None,
        detail=(f"{cashier.describe().capitalize()}: {over} of {trials} purchases near the "
                f"bonus threshold of {threshold} were just over it (from {threshold} to "
                f"{threshold + band - 1}), {trials - over} just under; even odds would make "
                f"that p = {p_value:.2g}."),
        dedupe_key=(f"threshold_amounts:{program_id}:{cashier.key}:{threshold}:"
                    f"{week.year}-W{week.week:02d}"),
        evidence={"threshold": threshold, "band": band, "just_over": over,
                  "just_under": trials - over, "p_value": p_value,
                  "days": thresholds.threshold_days, "purchases": listed})
