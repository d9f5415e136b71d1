"""Writing to the outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.cards.models import Card
from app.sync.models import OutboxMessage

TOPIC_PASS_UPDATED = "pass_updated"  # noqa: S105 (a topic name)


def pass_changed(session: Session, card: Card, *, reason: str) -> None:
    """Bump the card's pass and queue its push; the caller commits both or neither."""
    card.mark_pass_changed()
    session.add(OutboxMessage(
        merchant_id=card.merchant_id, card_id=card.id, topic=TOPIC_PASS_UPDATED,
        payload={"pass_version": card.pass_version, "reason": reason},
    ))
