"""One automatic send: an automatic offer reaching one card, or held out from it.

What counts toward the per-customer cap (``notifying_messages``): each offer that
reached the card's pass (a ``card_offers`` row not held out, manual or automatic, made or
renewed in the last seven days). One such offer is one notifying message in each wallet
the customer has: on Apple Wallet the pass's offers field changes, and that field
carries a ``changeMessage``, so the lock screen shows it (Apple shows a message only for
a changed field with one: balance and tier changes notify too, but they come from the
customer's own purchases and are not counted); on Google Wallet it is one
``TEXT_AND_NOTIFY`` message. Google also allows at most three notifying messages per
pass in 24 hours (``GOOGLE_DAILY_MESSAGES``, counting tier messages too): a send that
would pass either limit waits, and the rule tries again on its next run while the
occasion lasts. The cap is checked before the control group is drawn, so the treated and
held-out customers are chosen alike.

A held-out card gets its ``card_offers`` row (``held_out``) and its send record, and
nothing on its pass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.automations.models import AutomationSend
from app.cards.models import Card, CardStatus
from app.google_wallet.models import GoogleMessage
from app.offers.models import CardOffer
from app.offers.service import in_control_group
from app.outbox.messages import queue_pass_update

CAP_SPAN = timedelta(days=7)
GOOGLE_SPAN = timedelta(hours=24)
GOOGLE_DAILY_MESSAGES = 3
OFFER_REASON = "offer"


class Outcome(enum.Enum):
    SENT = enum.auto()
    HELD_OUT = enum.auto()
    CAPPED = enum.auto()  # the customer has had their share of messages for now
    ALREADY = enum.auto()  # the occasion was acted on (another worker, a rerun)
    GONE = enum.auto()  # the card is no longer active


@dataclass(frozen=True)
class Sender:
    """What a send needs of its rule, read once per run."""

    rule_id: int
    offer_id: int
    merchant_id: int
    holdout_percent: int
    valid_days: int
    weekly_cap: int


def notifying_messages(session: Session, *, card_id: int, now: datetime) -> tuple[int, int]:
    """The offers that reached the card's pass in the last week, and the Google messages
    queued for it in the last 24 hours."""
    week = session.scalar(select(func.count()).select_from(CardOffer).where(
        CardOffer.card_id == card_id, CardOffer.held_out.is_(False),
        CardOffer.created_at > now - CAP_SPAN)) or 0
    day = session.scalar(select(func.count()).select_from(GoogleMessage).where(
        GoogleMessage.card_id == card_id, GoogleMessage.created_at > now - GOOGLE_SPAN)) or 0
    return int(week), int(day)


def send(session: Session, *, sender: Sender, card_id: int, period: str, now: datetime
         ) -> Outcome:
    """Act on one occasion in one transaction (committed, or rolled back when nothing
    is to be done)."""
    card = session.scalar(select(Card).where(Card.id == card_id).with_for_update(of=Card)
                          .execution_options(populate_existing=True))
    if card is None or card.status != CardStatus.ACTIVE.value:
        session.rollback()
        return Outcome.GONE
    week, day = notifying_messages(session, card_id=card_id, now=now)
    if week >= sender.weekly_cap or day >= GOOGLE_DAILY_MESSAGES:
        session.rollback()
        return Outcome.CAPPED
    held = in_control_group(sender.offer_id, card_id, sender.holdout_percent)
    session.add(AutomationSend(rule_id=sender.rule_id, card_id=card_id, period=period,
                               offer_id=sender.offer_id, held_out=held, created_at=now))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return Outcome.ALREADY
    expires_at = now + timedelta(days=sender.valid_days)
    offered = session.get(CardOffer, (sender.offer_id, card_id))
    if offered is None:
        session.add(CardOffer(offer_id=sender.offer_id, card_id=card_id, held_out=held,
                              created_at=now, expires_at=expires_at))
    else:
        offered.held_out, offered.created_at, offered.expires_at = held, now, expires_at
    if not held:
        card.mark_pass_changed()
        queue_pass_update(session, merchant_id=card.merchant_id, card_id=card_id,
                          pass_version=card.pass_version, reason=OFFER_REASON,
                          offer_id=sender.offer_id)
    session.commit()
    return Outcome.HELD_OUT if held else Outcome.SENT
