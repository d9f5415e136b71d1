"""A card entering or leaving a wallet, one row per change, for installs and removals per day.

A row is a change of the card's state in one wallet, not a device's: Apple's ``installed``
is written when a card gets its first live registration (a second device is not a second
install), ``removed`` when its last one goes (the device unregistered, or APNs said the
token is dead); Google's ``installed`` when a save callback finds the object not saved,
``removed`` when a delete callback finds it saved. A customer who removes the pass and adds
it again is an install, a removal and an install. Rows are written in the transaction of
the change (``app.cards.wallet_events``) and never edited. ``merchant_id``, ``program_id``
and ``location_id`` (the card's enrolment location) are copied from the card so that a
program's day, or a location's, is one index range.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base

APPLE = "apple"
GOOGLE = "google"
WALLETS = (APPLE, GOOGLE)
INSTALLED = "installed"
REMOVED = "removed"
WALLET_EVENT_KINDS = (INSTALLED, REMOVED)


class WalletEvent(Base):
    __tablename__ = "wallet_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    wallet: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_wallet_events_program_created", "program_id", "created_at"),
        CheckConstraint("wallet IN ('apple', 'google')", name="wallet"),
        CheckConstraint("kind IN ('installed', 'removed')", name="kind"),
    )
