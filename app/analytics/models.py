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

The stats' summaries (``app.analytics.rollup`` writes them; ``stats`` reads them, and the
live tables only for the days not yet rolled up):
- ``stats_days``: what moved on a day at a location, each row a partial sum (the
  purchases' rows carry only sales, the entries' only points, …): a day's figure is the sum
  of its rows. Each figure is attributed to the location the live query filters it by
  (``app.analytics.flows``): sales where the purchase was made, points where the entry was
  made (or the card's location), ``net`` and enrolments at the card's location, wallet
  events at theirs; ``location_id`` null: none.
- ``visit_days`` and ``location_visit_days``: one row per card and day with a purchase
  (per location too in the second), with the card's two previous such days (at that
  location): where the next days' rows find their previous ones;
- ``visit_counts``: those rows counted per day and days since the previous visit (and
  since the one before), what a period's visit figures are read from (a few hundred rows
  a day however many customers came).
- ``stats_rollups``: per program, the last day rolled up (days roll up once they are over,
  in order, never edited after: every row the stats count is stamped when it is written),
  and the program's cards counted now and then per location, tier and reach state (what
  a change could reach is "now", and counting it costs a pass over the cards).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    # When an owner or manager last asked for a computation the worker is to make (a
    # large program's, ``app.analytics.segments.request_refresh``).
    requested_at: Mapped[datetime | None] = mapped_column(DateTime)
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


class StatsDay(Base):
    """Partial sums of one program's day at one location (see the module's docstring)."""

    __tablename__ = "stats_days"

    # No foreign keys, as in ``card_segments``: derived rows, written in bulk.
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column()
    location_id: Mapped[int | None] = mapped_column()
    day: Mapped[int] = mapped_column()  # days since 1970-01-01 (``app.analytics.days``)
    enrollments: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases: Mapped[int] = mapped_column(BigInteger, default=0)
    gross: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    expired: Mapped[int] = mapped_column(BigInteger, default=0)
    adjusted: Mapped[int] = mapped_column(BigInteger, default=0)
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    installed_apple: Mapped[int] = mapped_column(BigInteger, default=0)
    installed_google: Mapped[int] = mapped_column(BigInteger, default=0)
    removed_apple: Mapped[int] = mapped_column(BigInteger, default=0)
    removed_google: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_stats_days_program_day", "program_id", "day"),)


# The column of ``stats_days`` that counts each kind of wallet event in each wallet.
WALLET_COLUMNS = {(INSTALLED, APPLE): "installed_apple", (INSTALLED, GOOGLE): "installed_google",
                  (REMOVED, APPLE): "removed_apple", (REMOVED, GOOGLE): "removed_google"}


class VisitDay(Base):
    """A day with a purchase on a card, and the card's two previous ones (null: none)."""

    __tablename__ = "visit_days"

    card_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    program_id: Mapped[int] = mapped_column()
    prev_day: Mapped[int | None] = mapped_column()
    prev2_day: Mapped[int | None] = mapped_column()

    # A period's rows, read whole from the index (PostgreSQL).
    __table_args__ = (Index("ix_visit_days_program_day", "program_id", "day",
                            postgresql_include=["prev_day", "prev2_day"]),)


class LocationVisitDay(Base):
    """A day with a purchase on a card at a location, and the card's two previous ones
    there."""

    __tablename__ = "location_visit_days"

    card_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    location_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    program_id: Mapped[int] = mapped_column()
    prev_day: Mapped[int | None] = mapped_column()
    prev2_day: Mapped[int | None] = mapped_column()

    __table_args__ = (Index("ix_location_visit_days_program_location_day",
                            "program_id", "location_id", "day",
                            postgresql_include=["prev_day", "prev2_day"]),)


class VisitCount(Base):
    """How many visits of a day (per location, or at every one: ``location_id`` null) had
    their previous visit (``step`` 1) or the one before (``step`` 2) ``gap`` days before
    (null: none). A period's visit figures need no more (``app.analytics.visits``): a
    visit whose previous one is before the period's start is a customer's first in it,
    and one whose second previous is before it (less the first visits) a second visit."""

    __tablename__ = "visit_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column()
    location_id: Mapped[int | None] = mapped_column()
    day: Mapped[int] = mapped_column()
    step: Mapped[int] = mapped_column(SmallInteger)
    gap: Mapped[int | None] = mapped_column()
    visits: Mapped[int] = mapped_column()

    __table_args__ = (
        CheckConstraint("step IN (1, 2)", name="step"),
        Index("ix_visit_counts_program_location_day", "program_id", "location_id", "day",
              postgresql_include=["step", "gap", "visits"]),
    )


class StatsRollup(Base):
    """How far a program's summaries reach, and its cards as last counted."""

    __tablename__ = "stats_rollups"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    through_day: Mapped[int | None] = mapped_column()  # the last day rolled up (day number)
    rolled_at: Mapped[datetime | None] = mapped_column(DateTime)
    counted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # ``[{"location_id", "tier", "reach", "cards"}]``: the cards not deleted, per location
    # they joined at, tier (null: none) and reach state (``app.analytics.reach``).
    card_counts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
