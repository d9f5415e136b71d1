"""What the merchant sees of deliveries: pushes per card and device, counts, and
putting parked pushes, Google updates and mails back in the queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import iso, utcnow
from app.delivery.mail import retry_failed_mails
from app.devices.models import Device, Registration
from app.google_wallet import service as google
from app.outbox.messages import wake_after_commit


def card_deliveries(session: Session, *, card: Card) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Registration, Device.device_library_identifier)
        .join(Device, Device.id == Registration.device_id)
        .where(Registration.card_id == card.id).order_by(Registration.id)
    ).all()
    return [{
        "device": identifier[:8] + "…",
        "registered_at": iso(registration.created_at),
        "status": registration.push_status,
        "pending": registration.push_status == "pending",
        "attempts": registration.push_attempts,
        "next_attempt_at": iso(registration.push_available_at)
        if registration.push_status == "pending" else None,
        "last_pushed_at": iso(registration.last_push_at),
        "last_result": registration.last_push_result,
        "last_status": registration.last_push_status,
        "last_error": registration.last_push_error,
    } for registration, identifier in rows]


def merchant_push_counts(session: Session, *, merchant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Registration.push_status, Registration.last_push_result, func.count())
        .join(Card, Card.id == Registration.card_id)
        .where(Card.merchant_id == merchant_id)
        .group_by(Registration.push_status, Registration.last_push_result)
    ).all()
    counts = {"pending": 0, "failed": 0, "delivered": 0, "devices": 0}
    for status, result, count in rows:
        counts["devices"] += count
        if status in ("pending", "failed"):
            counts[status] += count
        elif result == "delivered":
            counts["delivered"] += count
    return counts


def retry_failed(session: Session, *, card: Card) -> int:
    """Put the card's parked pushes, Google updates and mails to its holder back in the
    queue, now."""
    result = session.execute(
        update(Registration)
        .where(Registration.card_id == card.id, Registration.push_status == "failed")
        .values(push_status="pending", push_attempts=0, push_available_at=utcnow(),
                push_leased_until=None)
        .execution_options(synchronize_session=False)
    )
    requeued = int(getattr(result, "rowcount", 0) or 0)
    requeued += google.retry_failed_google_updates(session, card_id=card.id)
    requeued += retry_failed_mails(session, customer_id=card.customer_id)
    wake_after_commit(session)
    session.commit()
    return requeued
