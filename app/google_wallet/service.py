"""What the merchant sees of a card's Google Wallet object, and putting parked work back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import iso, utcnow
from app.google_wallet.models import GoogleMessage, GoogleObject


def object_state(session: Session, *, card_id: int) -> dict[str, Any] | None:
    """The card's object as Loyalpass last left it with Google; None before it exists."""
    state = session.get(GoogleObject, card_id)
    if state is None:
        return None
    messages = session.scalars(select(GoogleMessage).where(GoogleMessage.card_id == card_id)
                               .order_by(GoogleMessage.id)).all()
    return {
        "object_id": state.object_id,
        "status": state.status,
        "inserted": state.inserted,
        "pending": state.status == "pending",
        "attempts": state.attempts,
        "last_synced_at": iso(state.synced_at),
        "last_status": state.last_status,
        "last_error": state.last_error,
        "saved_at": iso(state.saved_at),
        "removed_at": iso(state.removed_at),
        "messages": [{
            "id": message.id, "kind": message.kind, "header": message.header,
            "status": message.status, "notified": message.notified,
            "budget_spent": message.budget_spent, "sent_at": iso(message.sent_at),
            "last_error": message.last_error,
        } for message in messages],
    }


def retry_failed_google_updates(session: Session, *, card_id: int) -> int:
    """Put the card's parked object update and messages back in the queue (the caller
    commits); returns how many."""
    now = utcnow()
    requeued = 0
    for model in (GoogleObject, GoogleMessage):
        result = session.execute(
            update(model).where(model.card_id == card_id, model.status == "failed")
            .values(status="pending", attempts=0, available_at=now, leased_until=None)
            .execution_options(synchronize_session=False))
        requeued += int(getattr(result, "rowcount", 0) or 0)
    return requeued
