"""What a purchase writes, once the rules decided it (``app.ledger.purchases``): the card's
figures (``app.points.figures``, as the ORM use cases compute them), its next pass
version, the answer (``app.ledger.receipts``, as ``GET`` renders it) and the values of
every row the statement writes (``app.ledger.purchase_rows``), by the statements'
parameter names.

Invariant: the answer stored with the key, the answer sent and the card's new figures
come from the same values; nothing here reads or writes the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.cards.models import next_pass_stamps
from app.ledger.idempotency import Answer
from app.ledger.purchase_rows import Entry, PurchaseCardRow, Read
from app.ledger.receipts import NewPurchase, purchase_json
from app.ledger.schemas import PurchaseInput
from app.outbox.messages import pass_update_payload
from app.points.figures import SpendFigures, card_figures
from app.points.postings import Actor
from app.points.rules import PurchaseOutcome, Rules
from app.sql import Raw


@dataclass(frozen=True)
class Request:
    """The purchase, once its key is admitted: who asked for it, and where."""

    actor: Actor
    data: PurchaseInput
    number: str
    location_id: int | None
    key: str
    fingerprint: str


def purchase_values(raw: Raw, request: Request, card: PurchaseCardRow, rules: Rules,
                    outcome: PurchaseOutcome, entries: list[Entry], read: Read, now: datetime
                    ) -> tuple[Answer, dict[str, Any]]:
    """The answer, and the values of everything the purchase writes (by parameter name)."""
    data, actor, paid = request.data, request.actor, outcome.amount_paid
    assert read.purchase_id is not None  # taken for a key with its secret, as admitted
    figures = card_figures(
        card, points=sum(entry.points for entry in entries),
        stamps=sum(entry.stamps for entry in entries),
        rewards=sum(entry.rewards for entry in entries), tiers=rules.tiers,
        spend=SpendFigures(visits=card.visits + 1, lifetime_spend=card.lifetime_spend + paid,
                           last_visit_at=max(now, card.last_visit_at or now),
                           spend_12_months=read.spend_12_months + paid))
    version, tag, last_modified = next_pass_stamps(
        card.pass_version, card.pass_updated_at, card.pass_last_modified)
    body = purchase_json(NewPurchase(
        id=read.purchase_id, card_id=card.id, amount=data.amount, amount_paid=paid,
        earned_points=outcome.earned, bonus_points=outcome.bonus_points,
        redeemed_points=outcome.redeemed_points, redeemed_value=outcome.redeemed_value,
        stamps_added=outcome.stamps_added, rewards_redeemed=data.redeem_rewards,
        location_id=request.location_id, external_id=data.external_id, created_at=now,
    ), figures)
    text = json.dumps(body)  # written out once: stored with the key, and sent
    return Answer(201, body, text=text), {
        "balance_after": figures.balance, "stamps_after": figures.stamps,
        "rewards_after": figures.rewards, "tier": figures.tier, "visits": figures.visits,
        "lifetime_spend": figures.lifetime_spend, "last_visit_at": raw.time(
            figures.last_visit_at), "pass_version": version, "pass_updated_at": raw.time(tag),
        "pass_last_modified": raw.time(last_modified),
        "purchase_id": read.purchase_id, "merchant_id": card.merchant_id,
        "program_id": card.program_id, "card_id": card.id, "key": request.key,
        "request_hash": request.fingerprint, "status_code": 201,
        "response": raw.json_text(text), "location_id": request.location_id,
        "api_key_id": actor.api_key_id, "staff_id": actor.staff_id,
        "external_id": data.external_id, "amount": data.amount, "coupon_id": data.coupon,
        "redeemed_points": outcome.redeemed_points, "redeemed_value": outcome.redeemed_value,
        "amount_paid": paid, "earn_percent": raw.number(outcome.earn_percent),
        "earned_points": outcome.earned, "bonus_points": outcome.bonus_points,
        "stamps_added": outcome.stamps_added, "rewards_redeemed": data.redeem_rewards,
        "created_at": raw.time(now), "payload": raw.json(pass_update_payload(
            pass_version=version, reason="purchase", **tier_change(card, figures.tier, rules))),
        "detail": raw.json({"amount": data.amount, "redeemed": outcome.redeemed_points,
                            "earned": outcome.earned, "bonus": outcome.bonus_points}),
    }


def tier_change(card: PurchaseCardRow, tier: str | None, rules: Rules) -> dict[str, Any]:
    """For the outbox row: the senders tell the customer of an upgrade."""
    if tier == card.tier:
        return {}
    thresholds = {known.name: known.min_spend for known in rules.tiers}
    upgraded = tier is not None and (
        card.tier is None or thresholds[tier] > thresholds.get(card.tier, -1))
    return {"tier_from": card.tier, "tier_to": tier, "tier_up": upgraded}
