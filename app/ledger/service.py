"""Use cases of the ledger: purchases, refunds, adjustments, blocking, lookup, expiry.

Each write locks the card row, checks, appends entries, refreshes the card's cached
figures from the purchases, bumps the pass with an outbox row, leaves an audit record,
and commits once (through ``idempotency.run_once`` where a key guards it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.cards.service import card_by_scan
from app.clock import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from app.ledger import fraud
from app.ledger.idempotency import Answer, run_once
from app.ledger.models import Alert, LedgerEntry, Purchase, Refund
from app.ledger.postings import (
    Actor,
    audit,
    lock_card,
    post,
    program_rules,
    refresh_figures,
    spend_figures,
)
from app.ledger.rules import (
    CardState,
    PurchaseOutcome,
    RuleViolation,
    evaluate_purchase,
    evaluate_refund,
    max_redeemable,
)
from app.ledger.schemas import AdjustmentInput, PurchaseInput, RefundInput
from app.merchants.models import Location
from app.sync.outbox import pass_changed


@dataclass(frozen=True)
class Lookup:
    card: Card
    redeemable_points: int


def lookup(session: Session, *, actor: Actor, barcode: str, amount: int | None,
           secret: bytes) -> Lookup:
    card = card_by_scan(session, merchant_id=actor.merchant_id, scanned=barcode, secret=secret)
    redeemable = 0
    if card.status == "active":
        redeemable = max_redeemable(program_rules(card.program), balance=card.balance,
                                    amount=amount)
    return Lookup(card=card, redeemable_points=redeemable)


def record_purchase(session: Session, *, actor: Actor, data: PurchaseInput, key: str,
                    fingerprint: str, secret: bytes) -> Answer:
    card = card_by_scan(session, merchant_id=actor.merchant_id, scanned=data.barcode,
                        secret=secret)
    location_id = _location_for(session, actor, card, data.location_id)
    try:
        return run_once(session, merchant_id=actor.merchant_id, key=key,
                        fingerprint=fingerprint,
                        work=lambda: _purchase(session, actor, card.id, data, location_id))
    except fraud.LimitExceeded as exceeded:
        session.rollback()
        session.add(Alert(merchant_id=actor.merchant_id, program_id=card.program_id,
                          card_id=card.id, api_key_id=actor.api_key_id,
                          location_id=location_id, kind="velocity_limit",
                          detail=exceeded.detail))
        session.commit()
        raise TooMany(exceeded.detail, code="velocity_limit", limit=exceeded.limit) from None


def _location_for(session: Session, actor: Actor, card: Card, asked: int | None) -> int | None:
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


def _purchase(session: Session, actor: Actor, card_id: int, data: PurchaseInput,
              location_id: int | None) -> Answer:
    card = lock_card(session, card_id)
    if card.status != "active":
        raise Conflict("This card is blocked.", code="card_blocked")
    rules = program_rules(card.program)
    now = utcnow()
    figures = spend_figures(session, card.id, now)
    fraud.check_card_velocity(session, card, now)
    state = CardState(balance=card.balance, stamps=card.stamps, visits=figures.visits,
                      spend_12_months=figures.spend_12_months)
    try:
        outcome = evaluate_purchase(rules, state, amount=data.amount,
                                    redeem_points=data.redeem_points)
    except RuleViolation as violation:
        raise Conflict(violation.message, code=violation.code) from None
    if data.redeem_rewards > card.rewards:
        raise Conflict(f"The card holds {card.rewards} rewards, not {data.redeem_rewards}.",
                       code="insufficient_rewards")
    fraud.check_cashier_points(session, card.program, actor, now,
                               outcome.earned + outcome.bonus_points)
    purchase = Purchase(
        merchant_id=card.merchant_id, program_id=card.program_id, card_id=card.id,
        location_id=location_id, api_key_id=actor.api_key_id, external_id=data.external_id,
        amount=data.amount, redeemed_points=outcome.redeemed_points,
        redeemed_value=outcome.redeemed_value, amount_paid=outcome.amount_paid,
        earn_percent=outcome.earn_percent, earned_points=outcome.earned,
        bonus_points=outcome.bonus_points, stamps_added=outcome.stamps_added,
        rewards_redeemed=data.redeem_rewards, created_at=now,
    )
    session.add(purchase)
    session.flush()
    _post_purchase(session, card, actor, purchase, outcome, location_id)
    refresh_figures(card, rules, spend_figures(session, card.id, now))
    pass_changed(session, card, reason="purchase")
    audit(session, actor, "purchase", card_id=card.id, purchase_id=purchase.id,
          location_id=location_id, amount=data.amount, redeemed=outcome.redeemed_points,
          earned=outcome.earned, bonus=outcome.bonus_points)
    return Answer(201, purchase_json(purchase, card))


def _post_purchase(session: Session, card: Card, actor: Actor, purchase: Purchase,
                   outcome: PurchaseOutcome, location_id: int | None) -> None:
    common: dict[str, Any] = {"purchase_id": purchase.id, "location_id": location_id}
    post(session, card, actor, kind="redeem", points=-outcome.redeemed_points,
         rewards=-purchase.rewards_redeemed, **common)
    post(session, card, actor, kind="earn", points=outcome.earned,
         stamps=outcome.stamps_added, **common)
    for reason, points in outcome.bonuses:
        post(session, card, actor, kind="bonus", points=points, reason=reason, **common)
    if outcome.rewards_added:
        post(session, card, actor, kind="bonus", stamps=-outcome.stamps_converted,
             rewards=outcome.rewards_added, reason="stamps completed", **common)


def purchase_json(purchase: Purchase, card: Card) -> dict[str, Any]:
    return {
        "id": purchase.id,
        "card_id": card.id,
        "amount": purchase.amount,
        "amount_paid": purchase.amount_paid,
        "earned": purchase.earned_points,
        "bonus": purchase.bonus_points,
        "redeemed": purchase.redeemed_points,
        "redeemed_value": purchase.redeemed_value,
        "stamps_added": purchase.stamps_added,
        "rewards_redeemed": purchase.rewards_redeemed,
        "refunded_amount": purchase.refunded_amount,
        "balance": card.balance,
        "tier": card.tier,
        "stamps": card.stamps,
        "rewards": card.rewards,
        "location_id": purchase.location_id,
        "external_id": purchase.external_id,
        "created_at": purchase.created_at.isoformat() + "Z",
    }


def refund_purchase(session: Session, *, actor: Actor, purchase_id: int, data: RefundInput,
                    key: str, fingerprint: str) -> Answer:
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or purchase.merchant_id != actor.merchant_id:
        raise NotFound("No such purchase.")
    return run_once(session, merchant_id=actor.merchant_id, key=key, fingerprint=fingerprint,
                    work=lambda: _refund(session, actor, purchase_id, data))


def _refund(session: Session, actor: Actor, purchase_id: int, data: RefundInput) -> Answer:
    purchase = session.get(Purchase, purchase_id)
    assert purchase is not None
    card = lock_card(session, purchase.card_id)
    session.refresh(purchase)  # refunded_amount as of the lock
    refund_amount = data.amount if data.amount is not None else (
        purchase.amount - purchase.refunded_amount)
    if refund_amount == 0:
        raise Conflict("This purchase was refunded in full already.",
                       code="refund_exceeds_purchase")
    try:
        outcome = evaluate_refund(
            amount=purchase.amount, amount_paid=purchase.amount_paid,
            earned=purchase.earned_points, bonus=purchase.bonus_points,
            redeemed=purchase.redeemed_points, stamps=purchase.stamps_added,
            refunded_before=purchase.refunded_amount, refund=refund_amount)
    except RuleViolation as violation:
        raise Conflict(violation.message, code=violation.code) from None
    taken = outcome.reverse_earned + outcome.reverse_bonus
    # Points already spent cannot be taken back below zero: the merchant forgoes them.
    forgone = max(0, taken - outcome.return_redeemed - card.balance)
    refund = Refund(merchant_id=card.merchant_id, purchase_id=purchase.id,
                    api_key_id=actor.api_key_id, amount=refund_amount,
                    points_reversed=taken - forgone, points_returned=outcome.return_redeemed,
                    points_forgone=forgone, created_at=utcnow())
    session.add(refund)
    session.flush()
    common: dict[str, Any] = {"purchase_id": purchase.id, "refund_id": refund.id,
                              "location_id": purchase.location_id}
    whole = purchase.refunded_amount + refund_amount == purchase.amount
    rewards_back = purchase.rewards_redeemed if whole else 0
    post(session, card, actor, kind="reverse", points=outcome.return_redeemed,
         rewards=rewards_back, reason="redeemed points returned", **common)
    post(session, card, actor, kind="reverse", points=-(taken - forgone),
         stamps=-min(outcome.reverse_stamps, card.stamps), reason=data.reason or "refund",
         **common)
    purchase.refunded_amount += refund_amount
    purchase.refunded_paid += outcome.refunded_paid
    session.flush()
    refresh_figures(card, program_rules(card.program), spend_figures(session, card.id, utcnow()))
    pass_changed(session, card, reason="refund")
    audit(session, actor, "refund", card_id=card.id, purchase_id=purchase.id,
          amount=refund_amount, reversed=taken - forgone, returned=outcome.return_redeemed,
          forgone=forgone)
    return Answer(201, {
        "id": refund.id, "purchase_id": purchase.id, "card_id": card.id,
        "amount": refund_amount, "refunded_total": purchase.refunded_amount,
        "points_reversed": refund.points_reversed, "points_returned": refund.points_returned,
        "points_forgone": forgone, "balance": card.balance, "tier": card.tier,
        "stamps": card.stamps, "created_at": refund.created_at.isoformat() + "Z",
    })


def adjust(session: Session, *, actor: Actor, card_id: int, data: AdjustmentInput, key: str,
           fingerprint: str) -> Answer:
    card = _merchant_card(session, actor, card_id)
    if data.points == 0:
        raise Invalid("points: an adjustment must change the balance.",
                      errors=[{"field": "points", "message": "must not be zero"}])
    return run_once(session, merchant_id=actor.merchant_id, key=key, fingerprint=fingerprint,
                    work=lambda: _adjust(session, actor, card.id, data))


def _adjust(session: Session, actor: Actor, card_id: int, data: AdjustmentInput) -> Answer:
    card = lock_card(session, card_id)
    if card.balance + data.points < 0:
        raise Conflict(f"The card holds {card.balance} points; it cannot lose {-data.points}.",
                       code="insufficient_points")
    entry = post(session, card, actor, kind="adjust", points=data.points, reason=data.reason)
    assert entry is not None
    session.flush()
    pass_changed(session, card, reason="adjustment")
    audit(session, actor, "adjust", card_id=card.id, points=data.points, reason=data.reason)
    return Answer(201, {**entry_json(entry), "balance": card.balance})


def set_blocked(session: Session, *, actor: Actor, card_id: int, blocked: bool,
                reason: str) -> Card:
    card = lock_card(session, _merchant_card(session, actor, card_id).id)
    status = "blocked" if blocked else "active"
    if card.status != status:
        card.status = status
        pass_changed(session, card, reason=status)
        audit(session, actor, "block" if blocked else "unblock", card_id=card.id,
              reason=reason)
    session.commit()
    return card


def lookup_card(session: Session, *, card_id: int) -> Card:
    card = session.get(Card, card_id)
    assert card is not None
    return card


def _merchant_card(session: Session, actor: Actor, card_id: int) -> Card:
    card = session.get(Card, card_id)
    if card is None or card.merchant_id != actor.merchant_id:
        raise NotFound("No such card.")
    return card


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "kind": entry.kind, "points": entry.points, "stamps": entry.stamps,
        "rewards": entry.rewards, "purchase_id": entry.purchase_id,
        "refund_id": entry.refund_id, "location_id": entry.location_id,
        "api_key_id": entry.api_key_id, "reason": entry.reason,
        "created_at": entry.created_at.isoformat() + "Z",
    }


def entries(session: Session, *, actor: Actor, card_id: int, limit: int,
            before: int | None) -> tuple[list[LedgerEntry], int | None]:
    card = _merchant_card(session, actor, card_id)
    query = select(LedgerEntry).where(LedgerEntry.card_id == card.id)
    if before is not None:
        query = query.where(LedgerEntry.id < before)
    rows = list(session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)))
    following = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], following
