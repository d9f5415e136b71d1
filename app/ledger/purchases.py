"""Recording a purchase: the counter's hot path, written as a handful of Core statements.

A purchase is the write every cashier makes all day, so it skips the ORM's unit of work:
it claims its idempotency key, locks the card row (found by its number, the program's
version read in the same statement), reads the rolling 12-month spend and the velocity
counts in one aggregate (only when the program has tiers or card limits), then writes
the purchase, its entries, the card's new figures and pass version, the outbox row and
the audit record, stores the answer with the key and commits once.

Invariants, as everywhere in the ledger: under the card's row lock the cached figures
move by exactly what the new entries and purchase say (visits +1, lifetime spend + the
amount paid, balance + the entries' points), so they stay equal to the tables; the key,
the work and the outbox row commit together or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from app.cards.models import Card, next_pass_stamps
from app.cards.numbers import number_from_scan
from app.clock import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from app.ledger import fraud
from app.ledger.idempotency import Answer, claim, finish
from app.ledger.models import Alert, AuditRecord, LedgerEntry, Purchase
from app.ledger.postings import TIER_WINDOW, Actor, program_rules
from app.ledger.rules import (
    CardState,
    PurchaseOutcome,
    Rules,
    RuleViolation,
    evaluate_purchase,
    tier_for,
)
from app.ledger.schemas import PurchaseInput
from app.merchants.models import Location, Program
from app.sync.outbox import queue_pass_update

CARDS = cast(Table, Card.__table__)
PROGRAMS = cast(Table, Program.__table__)
PURCHASES = cast(Table, Purchase.__table__)
ENTRIES = cast(Table, LedgerEntry.__table__)
AUDIT = cast(Table, AuditRecord.__table__)
MAX_CACHED_TERMS = 256

# Built once: constructing a statement costs more than executing it on this path.
LOCK_CARD = (
    select(CARDS.c.id, CARDS.c.merchant_id, CARDS.c.program_id, CARDS.c.number,
           CARDS.c.status, CARDS.c.balance, CARDS.c.stamps, CARDS.c.rewards, CARDS.c.tier,
           CARDS.c.visits, CARDS.c.lifetime_spend, CARDS.c.last_visit_at,
           CARDS.c.pass_version, CARDS.c.pass_updated_at, CARDS.c.pass_last_modified,
           PROGRAMS.c.updated_at.label("program_updated_at"))
    .join_from(CARDS, PROGRAMS, CARDS.c.program_id == PROGRAMS.c.id)
    .where(CARDS.c.number == bindparam("number"),
           CARDS.c.merchant_id == bindparam("merchant_id"))
    .with_for_update(of=CARDS)
)
RECENT_PURCHASES = select(
    func.coalesce(func.sum(PURCHASES.c.amount_paid - PURCHASES.c.refunded_paid), 0),
    *[func.count(case((PURCHASES.c.created_at > bindparam(name), 1)))
      for name, _, _ in fraud.CARD_WINDOWS],
).where(PURCHASES.c.card_id == bindparam("card_id"),
        PURCHASES.c.created_at > bindparam("since"))
INSERT_PURCHASE = insert(PURCHASES).returning(PURCHASES.c.id)
INSERT_ENTRIES = insert(ENTRIES)
UPDATE_CARD = update(CARDS).where(CARDS.c.id == bindparam("card_id"))
INSERT_AUDIT = insert(AUDIT)


@dataclass(frozen=True)
class Terms:
    """A program's earning rules and limits as of one version of the program row."""

    rules: Rules
    limits: Mapping[str, int | None]


_terms: dict[tuple[int, datetime], Terms] = {}
_terms_lock = threading.Lock()


def program_terms(session: Session, program_id: int, updated_at: datetime) -> Terms:
    """The program's terms, built once per version (``updated_at`` moves on every change)."""
    key = (program_id, updated_at)
    with _terms_lock:
        terms = _terms.get(key)
    if terms is None:
        program = session.get(Program, program_id)
        assert program is not None
        terms = Terms(rules=program_rules(program), limits=dict(program.limits or {}))
        with _terms_lock:
            if len(_terms) >= MAX_CACHED_TERMS:
                _terms.clear()
            _terms[key] = terms
    return terms


@dataclass(frozen=True)
class LockedCard:
    """The card row as the purchase found it under its lock."""

    id: int
    merchant_id: int
    program_id: int
    number: str
    status: str
    balance: int
    stamps: int
    rewards: int
    tier: str | None
    visits: int
    lifetime_spend: int
    last_visit_at: datetime | None
    pass_version: int
    pass_updated_at: datetime
    pass_last_modified: datetime
    program_updated_at: datetime


class _Refused(Exception):
    """A velocity limit refused the purchase of this card."""

    def __init__(self, exceeded: fraud.LimitExceeded, card: LockedCard) -> None:
        super().__init__(exceeded.detail)
        self.exceeded, self.card = exceeded, card


def record_purchase(session: Session, *, actor: Actor, data: PurchaseInput, key: str,
                    fingerprint: str, secret: bytes) -> Answer:
    number = number_from_scan(data.barcode, secret)
    if number is None:
        raise NotFound("No card of yours has this barcode or number.", code="unknown_barcode")
    location_id = location_for(session, actor, data.location_id)
    claimed = claim(session, merchant_id=actor.merchant_id, key=key, fingerprint=fingerprint)
    if isinstance(claimed, Answer):
        return claimed
    try:
        answer = _purchase(session, actor, number, data, location_id)
        finish(session, claimed, answer)
        session.commit()
    except _Refused as refused:
        session.rollback()
        _alert(session, actor, refused, location_id)
        raise TooMany(refused.exceeded.detail, code="velocity_limit",
                      limit=refused.exceeded.limit) from None
    except BaseException:
        session.rollback()
        raise
    return answer


def location_for(session: Session, actor: Actor, asked: int | None) -> int | None:
    """Where the purchase happened: the key's own location, or one of the merchant's."""
    if actor.location_id is not None:
        if asked is not None and asked != actor.location_id:
            raise Forbidden("This cashier key records purchases at its own location only.",
                            code="location_forbidden")
        return actor.location_id
    if asked is None:
        return None
    location = session.get(Location, asked)
    if location is None or location.merchant_id != actor.merchant_id:
        raise Invalid("location_id: no such location.", code="unknown_location",
                      errors=[{"field": "location_id", "message": "no such location"}])
    return location.id


def _alert(session: Session, actor: Actor, refused: _Refused, location_id: int | None) -> None:
    session.add(Alert(merchant_id=actor.merchant_id, program_id=refused.card.program_id,
                      card_id=refused.card.id, api_key_id=actor.api_key_id,
                      location_id=location_id, kind="velocity_limit",
                      detail=refused.exceeded.detail))
    session.commit()


def _lock(db: Connection, merchant_id: int, number: str) -> LockedCard:
    row = db.execute(LOCK_CARD, {"number": number, "merchant_id": merchant_id}
                          ).one_or_none()
    if row is None:
        raise NotFound("No card of yours has this barcode or number.", code="unknown_barcode")
    card = LockedCard(**row._mapping)
    if card.status != "active":
        raise Conflict("This card is blocked.", code="card_blocked")
    return card


def _recent(db: Connection, card_id: int, now: datetime, terms: Terms
            ) -> tuple[int, dict[str, int]]:
    """Net spend over the tier window and purchase counts per velocity window, in one read
    (none at all when the program has neither tiers nor card limits)."""
    if not terms.rules.tiers and not fraud.card_limits_set(terms.limits):
        return 0, {}
    windows = {name: now - window for name, window, _ in fraud.CARD_WINDOWS}
    row = db.execute(RECENT_PURCHASES, {"card_id": card_id, "since": now - TIER_WINDOW,
                                             **windows}).one()
    return int(row[0]), {name: int(count) for name, count in zip(windows, row[1:],
                                                                  strict=True)}


def _purchase(session: Session, actor: Actor, number: str, data: PurchaseInput,
              location_id: int | None) -> Answer:
    db = session.connection()  # Core statements on the session's transaction
    card = _lock(db, actor.merchant_id, number)
    terms = program_terms(session, card.program_id, card.program_updated_at)
    now = utcnow()
    spend, counts = _recent(db, card.id, now, terms)
    state = CardState(balance=card.balance, stamps=card.stamps, visits=card.visits,
                      spend_12_months=spend)
    try:
        fraud.check_card_velocity(terms.limits, card_number=card.number, purchases=counts)
        outcome = evaluate_purchase(terms.rules, state, amount=data.amount,
                                    redeem_points=data.redeem_points)
        if data.redeem_rewards > card.rewards:
            raise Conflict(f"The card holds {card.rewards} rewards, not {data.redeem_rewards}.",
                           code="insufficient_rewards")
        fraud.check_cashier_points(session, terms.limits, actor, now,
                                   outcome.earned + outcome.bonus_points)
    except RuleViolation as violation:
        raise Conflict(violation.message, code=violation.code) from None
    except fraud.LimitExceeded as exceeded:
        raise _Refused(exceeded, card) from None
    purchase_id = _insert_purchase(db, actor, card, data, outcome, location_id, now)
    entries = _entries(outcome, data.redeem_rewards)
    _insert_entries(db, actor, card, entries, purchase_id, location_id, now)
    figures = _update_card(session, card, terms.rules, entries, spend + outcome.amount_paid,
                           outcome.amount_paid, now)
    _audit(db, actor, card.id, purchase_id, location_id, data.amount, outcome)
    return Answer(201, {
        "id": purchase_id, "card_id": card.id, "amount": data.amount,
        "amount_paid": outcome.amount_paid, "earned": outcome.earned,
        "bonus": outcome.bonus_points, "redeemed": outcome.redeemed_points,
        "redeemed_value": outcome.redeemed_value, "stamps_added": outcome.stamps_added,
        "rewards_redeemed": data.redeem_rewards, "refunded_amount": 0, **figures,
        "location_id": location_id, "external_id": data.external_id,
        "created_at": now.isoformat() + "Z",
    })


# (kind, points, stamps, rewards, reason): what the purchase posts, zero entries left out.
Entry = tuple[str, int, int, int, str]


def _entries(outcome: PurchaseOutcome, rewards_redeemed: int) -> list[Entry]:
    entries: list[Entry] = [
        ("redeem", -outcome.redeemed_points, 0, -rewards_redeemed, ""),
        ("earn", outcome.earned, outcome.stamps_added, 0, ""),
    ]
    entries += [("bonus", points, 0, 0, reason) for reason, points in outcome.bonuses]
    if outcome.rewards_added:
        entries.append(("bonus", 0, -outcome.stamps_converted, outcome.rewards_added,
                        "stamps completed"))
    return [entry for entry in entries if entry[1] or entry[2] or entry[3]]


def _insert_purchase(db: Connection, actor: Actor, card: LockedCard, data: PurchaseInput,
                     outcome: PurchaseOutcome, location_id: int | None, now: datetime) -> int:
    purchase_id = db.scalar(INSERT_PURCHASE, {
        "merchant_id": card.merchant_id, "program_id": card.program_id, "card_id": card.id,
        "location_id": location_id, "api_key_id": actor.api_key_id,
        "external_id": data.external_id, "amount": data.amount,
        "redeemed_points": outcome.redeemed_points, "redeemed_value": outcome.redeemed_value,
        "amount_paid": outcome.amount_paid, "earn_percent": outcome.earn_percent,
        "earned_points": outcome.earned, "bonus_points": outcome.bonus_points,
        "stamps_added": outcome.stamps_added, "rewards_redeemed": data.redeem_rewards,
        "refunded_amount": 0, "refunded_paid": 0, "created_at": now,
    })
    assert purchase_id is not None
    return int(purchase_id)


def _insert_entries(db: Connection, actor: Actor, card: LockedCard, entries: list[Entry],
                    purchase_id: int, location_id: int | None, now: datetime) -> None:
    if not entries:
        return
    db.execute(INSERT_ENTRIES, [
        {"merchant_id": card.merchant_id, "card_id": card.id, "kind": kind, "points": points,
         "stamps": stamps, "rewards": rewards, "purchase_id": purchase_id, "refund_id": None,
         "location_id": location_id, "api_key_id": actor.api_key_id,
         "staff_id": actor.staff_id, "reason": reason, "created_at": now}
        for kind, points, stamps, rewards, reason in entries
    ])


def _update_card(session: Session, card: LockedCard, rules: Rules, entries: list[Entry],
                 spend_12_months: int, amount_paid: int, now: datetime) -> dict[str, Any]:
    """Move the card's cache by what was just written; bump its pass and queue the push."""
    balance = card.balance + sum(entry[1] for entry in entries)
    stamps = card.stamps + sum(entry[2] for entry in entries)
    rewards = card.rewards + sum(entry[3] for entry in entries)
    if balance < 0 or stamps < 0 or rewards < 0:
        # evaluate_purchase and the rewards check prevent this; the CHECKs are the last line.
        raise ValueError(f"purchase would take card {card.id} below zero")
    reached = tier_for(rules.tiers, spend_12_months)
    tier = reached.name if reached is not None else None
    version, tag, last_modified = next_pass_stamps(
        card.pass_version, card.pass_updated_at, card.pass_last_modified)
    session.connection().execute(UPDATE_CARD, {
        "card_id": card.id, "balance": balance, "stamps": stamps, "rewards": rewards,
        "tier": tier, "visits": card.visits + 1,
        "lifetime_spend": card.lifetime_spend + amount_paid,
        "last_visit_at": max(now, card.last_visit_at or now), "pass_version": version,
        "pass_updated_at": tag, "pass_last_modified": last_modified})
    changes: dict[str, Any] = {}
    if tier != card.tier:
        thresholds = {known.name: known.min_spend for known in rules.tiers}
        upgraded = tier is not None and (
            card.tier is None or thresholds[tier] > thresholds.get(card.tier, -1))
        # The senders tell the customer of an upgrade (Google: a notifying message).
        changes = {"tier_from": card.tier, "tier_to": tier, "tier_up": upgraded}
    queue_pass_update(session, merchant_id=card.merchant_id, card_id=card.id,
                      pass_version=version, reason="purchase", **changes)
    return {"balance": balance, "tier": tier, "stamps": stamps, "rewards": rewards}


def _audit(db: Connection, actor: Actor, card_id: int, purchase_id: int,
           location_id: int | None, amount: int, outcome: PurchaseOutcome) -> None:
    db.execute(INSERT_AUDIT, {
        "merchant_id": actor.merchant_id, "action": "purchase", "api_key_id": actor.api_key_id,
        "staff_id": actor.staff_id, "location_id": location_id or actor.location_id,
        "card_id": card_id, "purchase_id": purchase_id, "created_at": utcnow(),
        "detail": {"amount": amount, "redeemed": outcome.redeemed_points,
                   "earned": outcome.earned, "bonus": outcome.bonus_points}})
