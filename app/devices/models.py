"""Devices, registrations and the wallet's log messages.

A device is only its ``deviceLibraryIdentifier``; each registration (a pass on a device)
carries its own push token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base
from app.outbox.models import leased_by_index

PUSH_PENDING = text("push_status = 'pending'")


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_library_identifier: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Registration(Base):
    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    # The token this pass was registered with, on this device: pushes for the pass go to it
    # alone. It is not the device's: another pass registered under the same
    # deviceLibraryIdentifier (by anyone holding that pass) brings its own token and
    # cannot redirect this one's pushes.
    push_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The push state of this pass on this device. A change sets it pending and bumps the
    # generation, so changes merge into one push; a result is recorded against the
    # generation it was for, so a change arriving mid-push is not marked delivered.
    push_status: Mapped[str] = mapped_column(String(16), default="idle")
    push_generation: Mapped[int] = mapped_column(Integer, default=0)
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    push_available_at: Mapped[datetime | None] = mapped_column(DateTime)
    push_leased_until: Mapped[datetime | None] = mapped_column(DateTime)
    # The worker process holding the lease (``workers.id``): freed at once when it dies.
    push_leased_by: Mapped[int | None] = mapped_column(Integer)
    last_push_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_push_result: Mapped[str | None] = mapped_column(String(32))
    last_push_status: Mapped[int | None] = mapped_column(Integer)
    last_push_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("device_id", "card_id", name="uq_registrations_device_card"),
        Index("ix_registrations_push_due", "push_status", "push_available_at"),
        # The claim's order, only over the pending ones: read in order, never sorted.
        Index("ix_registrations_push_pending", "push_available_at", "id",
              postgresql_where=PUSH_PENDING, sqlite_where=PUSH_PENDING),
        leased_by_index("registrations", "push_leased_by"),
        CheckConstraint("push_status IN ('idle', 'pending', 'failed')", name="push_status"),
    )


class DeviceLog(Base):
    __tablename__ = "device_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SignedPass(Base):
    """A card's pass signed ahead of its download (the worker signs it as its push leaves:
    ``app.devices.signing_ahead``): the card's own part of the package
    (``passes.apple.CardTail``), served instead of signing while it is still the pass,
    that is while the card's ``pass_last_modified`` is the one it was made at, it was made
    ``made_with`` what signs passes now (``app.wallet.service.Wallet.made_with``), the
    design's files are the ones it was made after (``design_digest``), and until
    ``good_until``: the first moment what it shows would change by the clock alone (an
    offer ending, a purchase leaving the tier's 12 months) or a day, whichever comes
    first. One row per card, about 2.8 KB (its signature without the certificates, put
    back when it is served); housekeeping deletes those past their time."""

    __tablename__ = "signed_passes"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    pass_last_modified: Mapped[datetime] = mapped_column(DateTime)
    made_with: Mapped[str] = mapped_column(String(64))
    # The design it follows: the program's version and the card's stamps it was made at
    # (a stamp card's strip shows them), and a digest of those files' bytes.
    design_version: Mapped[int] = mapped_column(Integer)
    stamps: Mapped[int] = mapped_column(Integer)
    design_digest: Mapped[str] = mapped_column(String(64))
    good_until: Mapped[datetime] = mapped_column(DateTime, index=True)
    entries: Mapped[bytes] = mapped_column(LargeBinary)
    directory: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
