"""The ledger's daily jobs: points expiry (oldest first) and tiers that lapse with time.

Both are safe to run twice and alongside the POS: each card is re-read under its row
lock and re-computed before anything is written, and each card commits on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.events import Before, card_events
from app.ledger.models import LedgerEntry, Purchase
from app.merchants.models import Program
from app.metrics import LEDGER_WRITES, count_after_commit
from app.outbox.messages import pass_changed
from app.points.postings import (
    TIER_WINDOW,
    Actor,
    audit,
    lock_card,
    post,
    program_rules,
    refresh_figures,
    spend_figures,
)
from app.points.rules import expiring_points, tier_for


@dataclass(frozen=True)
class JobReport:
    cards: int
    points: int = 0


def _credit_and_debit(cutoff: datetime) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Points credited up to the cutoff, and every point ever debited, for a card's rows."""
    old_credits = func.coalesce(func.sum(case(
        ((LedgerEntry.points > 0) & (LedgerEntry.created_at <= cutoff), LedgerEntry.points),
        else_=0)), 0)
    debits = func.coalesce(func.sum(case(
        (LedgerEntry.points < 0, -LedgerEntry.points), else_=0)), 0)
    return old_credits, debits


def expire_points(session: Session, *, now: datetime | None = None) -> JobReport:
    """Expire, card by card, the points older than each program's expiry not yet spent."""
    now = now or utcnow()
    cards = points = 0
    programs = session.execute(select(Program.id, Program.points_expire_days).where(
        Program.points_expire_days.is_not(None), Program.kind == "points")).all()
    session.rollback()  # a job never sits in a transaction (SQLite's lock) between steps
    for program_id, days in programs:
        cutoff = now - timedelta(days=days or 0)
        old_credits, debits = _credit_and_debit(cutoff)
        candidates = session.execute(
            select(LedgerEntry.card_id).join(Card, Card.id == LedgerEntry.card_id)
            .where(Card.program_id == program_id, Card.balance > 0)
            .group_by(LedgerEntry.card_id).having(old_credits > debits)
        ).scalars().all()
        session.rollback()
        for card_id in candidates:
            expired = _expire_card(session, card_id, cutoff)
            cards, points = cards + (expired > 0), points + expired
    return JobReport(cards=cards, points=points)


def _expire_card(session: Session, card_id: int, cutoff: datetime) -> int:
    card = lock_card(session, card_id)
    old_credits, debits = _credit_and_debit(cutoff)
    row = session.execute(select(old_credits.label("old_credits"), debits.label("debits"))
                          .where(LedgerEntry.card_id == card_id)).one()
    amount = min(expiring_points(old_credits=int(row.old_credits), debits=int(row.debits)),
                 card.balance)
    if amount > 0:
        actor = Actor(merchant_id=card.merchant_id)
        before = Before(balance=card.balance, tier=card.tier)
        post(session, card, actor, kind="expire", points=-amount,
             reason=f"points earned before {cutoff:%Y-%m-%d} expired")
        pass_changed(session, card, reason="expiry")
        card_events(session, card, before=before, reason="expiry")
        audit(session, actor, "expire", card_id=card.id, points=amount)
        count_after_commit(session, LEDGER_WRITES, "expiration")
    session.commit()
    return amount


def refresh_tiers(session: Session, *, now: datetime | None = None) -> JobReport:
    """Move cards to the tier their last 12 months of spend earn (tiers lapse with time)."""
    now = now or utcnow()
    changed = 0
    programs = [(program.id, program_rules(program)) for program in session.scalars(
        select(Program).where(Program.kind == "points"))]
    session.rollback()
    for program_id, rules in programs:
        if not rules.tiers:
            continue
        net = Purchase.amount_paid - Purchase.refunded_paid
        recent = func.coalesce(func.sum(case((Purchase.created_at > now - TIER_WINDOW, net),
                                             else_=0)), 0)
        rows = session.execute(
            select(Card.id, Card.tier, recent).outerjoin(Purchase, Purchase.card_id == Card.id)
            .where(Card.program_id == program_id).group_by(Card.id, Card.tier)
        ).all()
        session.rollback()
        for card_id, tier, spend in rows:
            due = tier_for(rules.tiers, int(spend))
            if (due.name if due else None) != tier:
                changed += _retier(session, card_id, now)
    return JobReport(cards=changed)


def _retier(session: Session, card_id: int, now: datetime) -> int:
    card = lock_card(session, card_id)
    before = Before(balance=card.balance, tier=card.tier)
    refresh_figures(card, program_rules(card.program), spend_figures(session, card.id, now))
    moved = card.tier != before.tier
    if moved:
        pass_changed(session, card, reason="tier")
        audit(session, Actor(merchant_id=card.merchant_id), "tier", card_id=card.id,
              before=before.tier, after=card.tier)
        card_events(session, card, before=before, reason="tier")
    session.commit()
    return int(moved)
