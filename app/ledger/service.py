"""Use cases of the ledger: refunds, adjustments, blocking, lookup, entries (purchases,
the hot path, are in ``purchases``).

Each write locks the card row, checks, appends entries, refreshes the card's cached
figures from the purchases, bumps the pass with an outbox row, leaves an audit record,
and commits once (through ``idempotency.run_once`` where a key guards it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card, CardStatus
from app.cards.service import card_by_scan, card_in_reach
from app.clock import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.ledger.events import Before, card_events
from app.ledger.idempotency import Answer, run_once
from app.ledger.models import LedgerEntry, Purchase, Refund
from app.ledger.schemas import AdjustmentInput, RefundInput
from app.merchants.access import CASHIER, check_location
from app.metrics import LEDGER_WRITES, count_after_commit
from app.offers.till import CardCoupon, card_coupons
from app.outbox.messages import pass_changed
from app.outbox.webhooks import PURCHASE_REFUNDED, webhook_event
from app.points.postings import (
    Actor,
    audit,
    lock_card,
    post,
    program_rules,
    refresh_figures,
    spend_figures,
)
from app.points.rules import (
    RuleViolation,
    evaluate_refund,
    max_redeemable,
    reversed_share,
)
from app.problem_codes import ProblemCode


@dataclass(frozen=True)
class Lookup:
    card: Card
    redeemable_points: int
    coupons: list[CardCoupon]  # the card may use now (``app.offers.till``)


def lookup(session: Session, *, actor: Actor, barcode: str, amount: int | None,
           keys: Sequence[bytes]) -> Lookup:
    card = card_by_scan(session, merchant_id=actor.merchant_id, scanned=barcode, keys=keys)
    redeemable, coupons = 0, []
    if card.status == "active":
        redeemable = max_redeemable(program_rules(card.program), balance=card.balance,
                                    amount=amount)
        coupons = card_coupons(session, card_id=card.id, now=utcnow())
    return Lookup(card=card, redeemable_points=redeemable, coupons=coupons)


def refund_purchase(session: Session, *, actor: Actor, purchase_id: int, data: RefundInput,
                    key: str, fingerprint: str) -> Answer:
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or purchase.merchant_id != actor.merchant_id:
        raise NotFound("No such purchase.")
    if actor.role == CASHIER:
        # A till refunds its own sales: a key lost at one shop cannot drain the points
        # of purchases made at the others.
        check_location(actor.principal, purchase.location_id,
                       doing="This cashier key refunds only purchases made at its own "
                             "location.")
    return run_once(session, merchant_id=actor.merchant_id, key=key, fingerprint=fingerprint,
                    work=lambda: _refund(session, actor, purchase_id, data))


def _refund(session: Session, actor: Actor, purchase_id: int, data: RefundInput) -> Answer:
    purchase = session.get(Purchase, purchase_id)
    assert purchase is not None
    card = lock_card(session, purchase.card_id)
    before = Before(balance=card.balance, tier=card.tier)
    session.refresh(purchase)  # refunded_amount as of the lock
    refund_amount = data.amount if data.amount is not None else (
        purchase.amount - purchase.refunded_amount)
    if refund_amount == 0:
        raise Conflict("This purchase was refunded in full already.",
                       code=ProblemCode.REFUND_EXCEEDS_PURCHASE)
    given = _offers_given(session, purchase.id)
    try:
        outcome = evaluate_refund(
            amount=purchase.amount, amount_paid=purchase.amount_paid,
            earned=purchase.earned_points, bonus=purchase.bonus_points - sum(given.values()),
            redeemed=purchase.redeemed_points, stamps=purchase.stamps_added,
            refunded_before=purchase.refunded_amount, refund=refund_amount)
    except RuleViolation as violation:
        raise Conflict(violation.message, code=violation.code) from None
    # What each offer gave is taken back in the same proportion, in an entry naming it.
    offers_taken = {offer_id: reversed_share(
        points, amount=purchase.amount, refunded_before=purchase.refunded_amount,
        refund=refund_amount) for offer_id, points in given.items()}
    plain = outcome.reverse_earned + outcome.reverse_bonus
    taken = plain + sum(offers_taken.values())
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
    plain_forgone = min(forgone, plain)
    post(session, card, actor, kind="reverse", points=-(plain - plain_forgone),
         stamps=-min(outcome.reverse_stamps, card.stamps), reason=data.reason or "refund",
         **common)
    left = forgone - plain_forgone
    for offer_id, points in sorted(offers_taken.items()):
        offer_forgone, left = min(left, points), left - min(left, points)
        post(session, card, actor, kind="reverse", points=-(points - offer_forgone),
             reason=f"refund: offer {offer_id}", offer_id=offer_id, **common)
    purchase.refunded_amount += refund_amount
    purchase.refunded_paid += outcome.refunded_paid
    session.flush()
    refresh_figures(card, program_rules(card.program), spend_figures(session, card.id, utcnow()))
    pass_changed(session, card, reason="refund")
    audit(session, actor, "refund", card_id=card.id, purchase_id=purchase.id,
          amount=refund_amount, reversed=taken - forgone, returned=outcome.return_redeemed,
          forgone=forgone)
    answer = _refund_json(refund, purchase, card)
    webhook_event(session, merchant_id=card.merchant_id, event_type=PURCHASE_REFUNDED,
                  card_id=card.id, data={**answer, "program_id": card.program_id})
    card_events(session, card, before=before, reason="refund", purchase_id=purchase.id)
    count_after_commit(session, LEDGER_WRITES, "refund")
    return Answer(201, answer)


def _refund_json(refund: Refund, purchase: Purchase, card: Card) -> dict[str, Any]:
    return {
        "id": refund.id, "purchase_id": purchase.id, "card_id": card.id,
        "amount": refund.amount, "refunded_total": purchase.refunded_amount,
        "points_reversed": refund.points_reversed, "points_returned": refund.points_returned,
        "points_forgone": refund.points_forgone, "balance": card.balance, "tier": card.tier,
        "stamps": card.stamps, "created_at": refund.created_at.isoformat() + "Z",
    }


def _offers_given(session: Session, purchase_id: int) -> dict[int, int]:
    """The points each offer's mechanic gave the purchase (its ``bonus`` entries)."""
    found = session.execute(
        select(LedgerEntry.offer_id, func.sum(LedgerEntry.points).label("points"))
        .where(LedgerEntry.purchase_id == purchase_id, LedgerEntry.kind == "bonus",
               LedgerEntry.offer_id.is_not(None))
        .group_by(LedgerEntry.offer_id)).all()
    return {int(row.offer_id): int(row.points) for row in found}


def adjust(session: Session, *, actor: Actor, card_id: int, data: AdjustmentInput, key: str,
           fingerprint: str) -> Answer:
    card = card_in_reach(session, principal=actor.principal, card_id=card_id)
    if data.points == 0:
        raise Invalid("points: an adjustment must change the balance.",
                      errors=[{"field": "points", "message": "must not be zero"}])
    return run_once(session, merchant_id=actor.merchant_id, key=key, fingerprint=fingerprint,
                    work=lambda: _adjust(session, actor, card.id, data))


def _adjust(session: Session, actor: Actor, card_id: int, data: AdjustmentInput) -> Answer:
    card = lock_card(session, card_id)
    if card.balance + data.points < 0:
        raise Conflict(f"The card holds {card.balance} points; it cannot lose {-data.points}.",
                       code=ProblemCode.INSUFFICIENT_POINTS)
    before = Before(balance=card.balance, tier=card.tier)
    entry = post(session, card, actor, kind="adjust", points=data.points, reason=data.reason)
    assert entry is not None
    session.flush()
    pass_changed(session, card, reason="adjustment")
    card_events(session, card, before=before, reason="adjustment")
    audit(session, actor, "adjust", card_id=card.id, points=data.points, reason=data.reason)
    count_after_commit(session, LEDGER_WRITES, "adjustment")
    return Answer(201, {**entry_json(entry), "balance": card.balance})


def set_blocked(session: Session, *, actor: Actor, card_id: int, blocked: bool,
                reason: str) -> Card:
    card = lock_card(session, card_in_reach(session, principal=actor.principal,
                                            card_id=card_id).id)
    if card.status == CardStatus.DELETED:
        # Its holder deleted their data: the card stays void for good.
        raise Conflict("This card was deleted with its holder's data.",
                       code=ProblemCode.CARD_DELETED)
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
