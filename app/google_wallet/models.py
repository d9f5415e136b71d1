"""What Loyalpass knows of its Google Wallet classes, objects, messages and callbacks.

An object is held (``held_in_a_wallet``) while it is saved in someone's Google Wallet and
not removed since: Google hears of a card's changes (a patch, a message) only then. The
object itself is inserted for every card, held or not, because the save link names an
object Google must already have (``passes.google.savelink``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base
from app.outbox.models import QueuedRow, leased_by_index

SYNC_STATES = ("pending", "synced", "failed")


class SyncState:
    """Where a class or object stands with Google: pending until the generation it
    holds has been sent, leased by one worker at a time, with Google's last answer."""

    status: Mapped[str] = mapped_column(String(16), default="pending")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    synced_generation: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime)
    leased_by: Mapped[int | None] = mapped_column(Integer)  # ``QueuedRow.leased_by``
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)


class GoogleClass(SyncState, Base):
    """A program's LoyaltyClass: pending until Google has its newest design."""

    __tablename__ = "google_classes"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    class_id: Mapped[str] = mapped_column(String(160), unique=True)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'synced', 'failed')", name="status"),
        Index("ix_google_classes_due", "status", "available_at"),
        leased_by_index("google_classes"),
    )


class GoogleObject(SyncState, Base):
    """A card's LoyaltyObject: inserted once, then patched with the newest state."""

    __tablename__ = "google_objects"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    object_id: Mapped[str] = mapped_column(String(160), unique=True)
    inserted: Mapped[bool] = mapped_column(Boolean, default=False)
    saved_at: Mapped[datetime | None] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'synced', 'failed')", name="status"),
        Index("ix_google_objects_due", "status", "available_at"),
        leased_by_index("google_objects"),
    )


def held_in_a_wallet() -> ColumnElement[bool]:
    """The object is in someone's Google Wallet: saved, and not removed since."""
    return GoogleObject.saved_at.is_not(None) & GoogleObject.removed_at.is_(None)


class GoogleMessage(QueuedRow, Base):
    """A message for a card's object (an offer, a tier upgrade): notifying while the
    card's budget of three in 24 hours lasts, silent after."""

    __tablename__ = "google_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(16))
    header: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_spent: Mapped[bool] = mapped_column(Boolean, default=False)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))  # what it announces

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_google_messages_due", "status", "available_at"),
        leased_by_index("google_messages"),
        Index("ix_google_messages_card_sent", "card_id", "sent_at"),
        Index("ix_google_messages_offer_id", "offer_id"),
    )


class GoogleEvent(Base):
    """A save or delete callback from Google, once per nonce."""

    __tablename__ = "google_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), unique=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(8))
    class_id: Mapped[str] = mapped_column(String(160))
    object_id: Mapped[str] = mapped_column(String(160))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (CheckConstraint("event_type IN ('save', 'del')", name="event_type"),)


class RateSlot(Base):
    """Per shared limit, the moment (Unix microseconds) the next request may be sent."""

    __tablename__ = "rate_slots"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot: Mapped[int] = mapped_column(BigInteger)
