"""Fraud patterns of a card's own history (``redeem_elsewhere``) and of enrolments
(``enrolment_burst``); see ``app.ledger.fraud_patterns`` for the rest and the ranges.

``redeem_elsewhere`` reads the new ledger entries: a redemption (a ``redeem`` entry at a
location) preceded, within the program's ``redeem_elsewhere_minutes``, by points earned
(an ``earn`` or ``bonus`` entry) on the same card at another location: the points were
carried off as soon as they were given. One alert per card and UTC day.

``enrolment_burst`` reads the new cards: for each origin among them, the program's cards
of that origin around them, and the densest run of them within
``enrolment_window_minutes``. One alert per program, origin and UTC day of the run's
first card. Cards a merchant enrolled have no origin and are never counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.ledger.fraud_evidence import (
    EVIDENCE_LIMIT,
    Suspicion,
    card_listed,
    purchases_listed,
    watched_programs,
)
from app.ledger.models import LedgerEntry

EARNING_KINDS = ("earn", "bonus")
# The most cards of one origin read around a new one: enough for any burst a program's
# threshold may name in a window, and a bound on what one origin can make the detector read.
ORIGIN_READ_LIMIT = 2000


def redeems_after_earning(session: Session, *, low: int, high: int) -> list[Suspicion]:
    redeems = session.execute(
        select(LedgerEntry.id, LedgerEntry.card_id, LedgerEntry.location_id,
               LedgerEntry.created_at, LedgerEntry.purchase_id, LedgerEntry.points,
               LedgerEntry.merchant_id, Card.program_id)
        .join(Card, Card.id == LedgerEntry.card_id)
        .where(LedgerEntry.id > low, LedgerEntry.id <= high, LedgerEntry.kind == "redeem",
               LedgerEntry.location_id.is_not(None))
        .order_by(LedgerEntry.id)).all()
    programs = watched_programs(session, (row.program_id for row in redeems))
    windows = {row.id: timedelta(minutes=minutes) for row in redeems
               if (minutes := programs[row.program_id].thresholds.redeem_elsewhere_minutes)}
    watching = [row for row in redeems if row.id in windows]
    if not watching:
        return []
    since = min(row.created_at - windows[row.id] for row in watching)
    earnings = session.execute(
        select(LedgerEntry.id, LedgerEntry.card_id, LedgerEntry.location_id,
               LedgerEntry.created_at, LedgerEntry.purchase_id, LedgerEntry.points)
        .where(LedgerEntry.card_id.in_(sorted({row.card_id for row in watching})),
               LedgerEntry.kind.in_(EARNING_KINDS), LedgerEntry.points > 0,
               LedgerEntry.location_id.is_not(None), LedgerEntry.created_at >= since,
               LedgerEntry.id <= high)
        .order_by(LedgerEntry.id)).all()
    found = []
    for redeem in watching:
        earned = [row for row in earnings
                  if row.card_id == redeem.card_id and row.id < redeem.id
                  and row.location_id != redeem.location_id
                  and redeem.created_at - windows[redeem.id] <= row.created_at
                  <= redeem.created_at]
        if earned:
            found.append(_redeemed_elsewhere(session, redeem, earned, windows[redeem.id]))
    return found


def _redeemed_elsewhere(session: Session, redeem: Any, earned: Sequence[Any],
                        window: timedelta) -> Suspicion:
    minutes = int(window.total_seconds() // 60)
    first = earned[0]
    after = int((redeem.created_at - first.created_at).total_seconds() // 60)
    purchase_ids = [row.purchase_id for row in (*earned, redeem) if row.purchase_id]
    return Suspicion(
        merchant_id=redeem.merchant_id, program_id=redeem.program_id,
        kind="redeem_elsewhere", card_id=redeem.card_id, location_id=redeem.location_id,
        detail=(f"{-redeem.points} points redeemed at location {redeem.location_id} "
                f"{after} minutes after the card earned {sum(row.points for row in earned)} "
                f"at location {first.location_id}; the program's threshold is {minutes} "
                "minutes."),
        dedupe_key=f"redeem_elsewhere:{redeem.card_id}:{redeem.created_at.date()}",
        evidence={"minutes": minutes, "redeemed": -redeem.points,
                  "redeemed_at": redeem.location_id,
                  "earned": [{"points": row.points, "location_id": row.location_id,
                              "purchase_id": row.purchase_id} for row in earned],
                  "purchases": purchases_listed(session, purchase_ids)})


def enrolment_bursts(session: Session, *, low: int, high: int) -> list[Suspicion]:
    origins = session.execute(
        select(Card.program_id, Card.enrolled_from, func.min(Card.created_at).label("first"),
               func.max(Card.created_at).label("last"))
        .where(Card.id > low, Card.id <= high, Card.enrolled_from.is_not(None))
        .group_by(Card.program_id, Card.enrolled_from)).all()
    programs = watched_programs(session, (row.program_id for row in origins))
    found = []
    for origin in origins:
        program = programs[origin.program_id]
        least = program.thresholds.enrolments_per_origin
        if least is None:
            continue
        width = timedelta(minutes=program.thresholds.enrolment_window_minutes)
        cards = session.execute(
            select(Card.id, Card.number, Card.created_at, Card.location_id)
            .where(Card.program_id == origin.program_id,
                   Card.enrolled_from == origin.enrolled_from,
                   Card.created_at >= origin.first - width,
                   Card.created_at <= origin.last + width)
            .order_by(Card.created_at, Card.id).limit(ORIGIN_READ_LIMIT)).all()
        start, end = densest_window([card.created_at for card in cards], width)
        if end - start >= least:
            found.append(_burst(program.merchant_id, origin, cards[start:end], least,
                                program.thresholds.enrolment_window_minutes))
    return found


def _burst(merchant_id: int, origin: Any, cards: Sequence[Any], least: int,
           minutes: int) -> Suspicion:
    first = cards[0]
    return Suspicion(
        merchant_id=merchant_id, program_id=origin.program_id, kind="enrolment_burst",
        location_id=first.location_id,
        detail=(f"{len(cards)} cards joined from one device or address within {minutes} "
                f"minutes; the program's threshold is {least}."),
        dedupe_key=(f"enrolment_burst:{origin.program_id}:{origin.enrolled_from}:"
                    f"{first.created_at.date()}"),
        evidence={"cards_counted": len(cards), "threshold": least, "minutes": minutes,
                  "cards": [card_listed(card.id, card.number, card.created_at,
                                        card.location_id)
                            for card in cards[:EVIDENCE_LIMIT]]})


def densest_window(moments: Sequence[datetime], width: timedelta) -> tuple[int, int]:
    """The first and one-past-last index of the longest run of ``moments`` (sorted)
    that lies within ``width`` of its first."""
    best, start = (0, 0), 0
    for end in range(len(moments)):
        while moments[end] - moments[start] > width:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return best
