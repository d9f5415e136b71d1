"""Low-level ledger writes shared by the use cases: who acts, locking a card, appending
entries while keeping the card's cached figures equal to them, and the audit trail.

Nothing here commits; the calling use case does, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, select
from sqlalchemy.orm import Session

from app.bulk import insert_rows
from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import AuditRecord, LedgerEntry, Purchase
from app.merchants.access import Principal, at_location
from app.merchants.models import Program
from app.metrics import LEDGER_ENTRIES, count_after_commit
from app.points.figures import SpendFigures, card_figures
from app.points.rules import Rules

TIER_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class Actor:
    """Who is writing: the API key (and its staff member and bound location), or a staff
    member on the dashboard (``location_id`` names where they act when they work at one
    location only; ``locations`` all they are limited to, when several)."""

    merchant_id: int
    api_key_id: int | None = None
    staff_id: int | None = None
    location_id: int | None = None
    role: str = "owner"
    locations: frozenset[int] = frozenset()

    @property
    def principal(self) -> Principal:
        """Who writes, as the one authorization function reads it."""
        return Principal(merchant_id=self.merchant_id, role=self.role, staff_id=self.staff_id,
                         locations=self.locations or at_location(self.location_id),
                         api_key_id=self.api_key_id)


def program_rules(program: Program) -> Rules:
    return Rules.from_values(
        kind=program.kind, earn_percent=program.earn_percent, point_value=program.point_value,
        welcome_points=program.welcome_points, tiers=program.tiers, triggers=program.triggers,
        max_redeem_percent=program.max_redeem_percent, stamps_required=program.stamps_required,
        stamp_min_amount=program.stamp_min_amount, points_expire_days=program.points_expire_days,
    )


def lock_card(session: Session, card_id: int) -> Card:
    """The card, re-read under a row lock held to the end of the transaction.

    PostgreSQL locks the card row only (not its program); SQLite's transactions already
    hold the database's write lock from BEGIN IMMEDIATE.
    """
    card = session.scalar(
        select(Card).where(Card.id == card_id).with_for_update(of=Card)
        .execution_options(populate_existing=True)
    )
    assert card is not None
    return card


def post(
    session: Session, card: Card, actor: Actor, *, kind: str, points: int = 0, stamps: int = 0,
    rewards: int = 0, purchase_id: int | None = None, refund_id: int | None = None,
    location_id: int | None = None, reason: str = "", offer_id: int | None = None,
) -> LedgerEntry | None:
    """Append one entry and apply it to the card's cache; nothing for a zero entry."""
    if points == 0 and stamps == 0 and rewards == 0:
        return None
    figures = card_figures(card, points=points, stamps=stamps, rewards=rewards)
    card.balance, card.stamps, card.rewards = figures.balance, figures.stamps, figures.rewards
    entry = LedgerEntry(
        merchant_id=card.merchant_id, card_id=card.id, kind=kind, points=points,
        stamps=stamps, rewards=rewards, purchase_id=purchase_id, refund_id=refund_id,
        location_id=location_id, api_key_id=actor.api_key_id, staff_id=actor.staff_id,
        reason=reason, offer_id=offer_id,
    )
    session.add(entry)
    count_after_commit(session, LEDGER_ENTRIES, kind)
    return entry


@dataclass(frozen=True)
class Posting:
    """Points for one card, in a batch (``post_many``)."""

    card_id: int
    points: int


_ENTRIES = cast(Table, LedgerEntry.__table__)


def opening_balances(postings: Iterable[Posting]) -> dict[int, int]:
    """Each card's balance after ``postings``, for cards that open with them
    (``post_openings``)."""
    balances: dict[int, int] = {}
    for posting in postings:
        balances[posting.card_id] = balances.get(posting.card_id, 0) + posting.points
    return balances


def post_openings(session: Session, actor: Actor, postings: Sequence[Posting], *,
                  kind: str, reason: str) -> int:
    """The entries that new cards open with (points only, one of ``kind`` per posting,
    zero ones left out), in one bulk statement (``app.bulk``) rather than a round trip
    per card. For cards inserted in the caller's transaction with their cached balance
    already ``opening_balances`` of all their openings: a card row is written once, not
    written and then rewritten (an import makes 100,000 of them), and the cache equals
    the sum of the entries when the transaction commits. How many entries."""
    posted = [posting for posting in postings if posting.points]
    now = utcnow()
    insert_rows(session, _ENTRIES, [{
        "merchant_id": actor.merchant_id, "card_id": posting.card_id, "kind": kind,
        "points": posting.points, "stamps": 0, "rewards": 0, "purchase_id": None,
        "refund_id": None, "location_id": actor.location_id, "api_key_id": actor.api_key_id,
        "staff_id": actor.staff_id, "reason": reason, "created_at": now,
    } for posting in posted])
    count_after_commit(session, LEDGER_ENTRIES, kind, amount=len(posted))
    return len(posted)


def spend_figures(session: Session, card_id: int, now: datetime) -> SpendFigures:
    """The card's purchase figures as the purchases table says them (net of refunds)."""
    net = Purchase.amount_paid - Purchase.refunded_paid
    row = session.execute(
        select(
            # count(*), not of a column: the index (0029) answers without the table.
            func.count().label("visits"),
            func.max(Purchase.created_at).label("last_visit_at"),
            func.coalesce(func.sum(net), 0).label("lifetime_spend"),
            func.coalesce(func.sum(case((Purchase.created_at > now - TIER_WINDOW, net),
                                        else_=0)), 0).label("spend_12_months"),
        ).where(Purchase.card_id == card_id)
    ).one()
    return SpendFigures(visits=int(row.visits), last_visit_at=row.last_visit_at,
                        lifetime_spend=int(row.lifetime_spend),
                        spend_12_months=int(row.spend_12_months))


def refresh_figures(card: Card, rules: Rules, spend: SpendFigures) -> str | None:
    """Set the card's cached figures and tier from its purchases; returns its tier before."""
    previous = card.tier
    figures = card_figures(card, spend=spend, tiers=rules.tiers)
    card.visits, card.last_visit_at = figures.visits, figures.last_visit_at
    card.lifetime_spend, card.tier = figures.lifetime_spend, figures.tier
    return previous


def audit(
    session: Session, actor: Actor, action: str, *, card_id: int | None = None,
    purchase_id: int | None = None, location_id: int | None = None, **detail: Any,
) -> None:
    session.add(AuditRecord(
        merchant_id=actor.merchant_id, action=action, api_key_id=actor.api_key_id,
        staff_id=actor.staff_id, location_id=location_id or actor.location_id,
        card_id=card_id, purchase_id=purchase_id, detail=detail, created_at=utcnow(),
    ))
