"""Derived and recorded tables of the analytics package.

``card_segments`` holds each scored card's RFM scores and named segment
(``app.analytics.segments`` writes it whole per program; the hot ``cards`` rows are never
touched by it); ``segment_refreshes`` says when a program's segments were last computed,
and its row is the lock that keeps two computations of one program apart.

``SEGMENTS`` are the segment names the API and offers' audiences use, best first; they
live here, beside the table, so that the offers package (below analytics) may read them.

``wallet_events``: a card entering or leaving a wallet, one row per change, for installs
and removals per day. A row is a change of the card's state in one wallet, not a
device's: Apple's ``installed`` is written when a card gets its first live registration (a
second device is not a second install), ``removed`` when its last one goes (the device
unregistered, or APNs said the token is dead); Google's ``installed`` when a save callback
finds the object not saved, ``removed`` when a delete callback finds it saved. A customer
who removes the pass and adds it again is an install, a removal and an install. Rows are
written in the transaction of the change (``app.cards.wallet_events``) and never edited.
``merchant_id``, ``program_id`` and ``location_id`` (the card's enrolment location) are
copied from the card so that a program's day, or a location's, is one index range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base

CHAMPIONS, LOYAL, PROMISING, NEW = "champions", "loyal", "promising", "new"
AT_RISK, CANT_LOSE, HIBERNATING, LOST = "at_risk", "cant_lose", "hibernating", "lost"
SEGMENTS = (CHAMPIONS, LOYAL, PROMISING, NEW, AT_RISK, CANT_LOSE, HIBERNATING, LOST)
SEGMENT_MAX_LENGTH = 16

APPLE = "apple"
GOOGLE = "google"
WALLETS = (APPLE, GOOGLE)
INSTALLED = "installed"
REMOVED = "removed"
WALLET_EVENT_KINDS = (INSTALLED, REMOVED)


class CardSegment(Base):
    """One card's RFM scores (1–5 each, 5 best) and its segment, as last computed."""

    __tablename__ = "card_segments"

    # No foreign keys: the rows are derived and rewritten whole from ``cards`` (whose rows
    # are never deleted), and a key's check, a trigger per row on PostgreSQL, was measured
    # at half the time of writing a program's rows.
    card_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    program_id: Mapped[int] = mapped_column()
    # The card's ``location_id`` (where it joined) when computed: the counts per location.
    location_id: Mapped[int | None] = mapped_column()
    recency: Mapped[int] = mapped_column(SmallInteger)
    frequency: Mapped[int] = mapped_column(SmallInteger)
    monetary: Mapped[int] = mapped_column(SmallInteger)
    segment: Mapped[str] = mapped_column(String(SEGMENT_MAX_LENGTH))
    computed_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("recency BETWEEN 1 AND 5 AND frequency BETWEEN 1 AND 5 "
                        "AND monetary BETWEEN 1 AND 5", name="scores"),
        # A program's counts per segment, and an offer's audience by segment.
        Index("ix_card_segments_program_id_segment", "program_id", "segment"),
    )


class SegmentRefresh(Base):
    """When a program's segments were last computed, and over how many cards."""

    __tablename__ = "segment_refreshes"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
    cards: Mapped[int] = mapped_column(Integer, default=0)
    # The counts as computed, per location the cards joined at (null: none):
    # ``[{"location_id", "segment", "cards"}]``; what pages and stats read, so that a
    # count never scans the program's rows.
    totals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


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
