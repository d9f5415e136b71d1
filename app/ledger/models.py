"""Purchases, refunds, ledger entries, idempotency records, alerts and the audit trail."""

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
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base

ENTRY_KINDS = ("welcome", "earn", "redeem", "bonus", "adjust", "reverse", "expire")
# What raised an alert: a velocity limit's refusal (``app.ledger.fraud``), or a pattern
# the fraud detector found (``app.ledger.fraud_patterns``, ``app.ledger.fraud_cards``).
ALERT_KINDS = ("velocity_limit", "repeated_scans", "threshold_amounts", "redeem_elsewhere",
               "enrolment_burst")


class Purchase(Base):
    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    # The member at the dashboard's cashier screen (a key's purchases name the key): who
    # scanned, for the fraud detector, even when the purchase posted no entry.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    amount: Mapped[int] = mapped_column(BigInteger)
    redeemed_points: Mapped[int] = mapped_column(BigInteger, default=0)
    redeemed_value: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger)
    earn_percent: Mapped[Any] = mapped_column(Numeric(7, 3))
    earned_points: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_points: Mapped[int] = mapped_column(BigInteger, default=0)
    stamps_added: Mapped[int] = mapped_column(Integer, default=0)
    rewards_redeemed: Mapped[int] = mapped_column(Integer, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        # A card's spend and counts by period, from the index alone (0029).
        Index("ix_purchases_card_created", "card_id", "created_at",
              postgresql_include=["amount_paid", "refunded_paid"]),
        Index("ix_purchases_api_key_created", "api_key_id", "created_at"),
        # The stats (0026): covering, so that sales and visits read the index alone.
        Index("ix_purchases_program_created", "program_id", "created_at",
              postgresql_include=["card_id", "location_id", "amount"]),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_paid >= 0", name="amount_paid_not_negative"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount",
                        name="refund_within_amount"),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0)
    points_forgone: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_merchant_created", "merchant_id", "created_at",  # the stats (0026)
              postgresql_include=["purchase_id", "amount"]),
    )


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    stamps: Mapped[int] = mapped_column(Integer, default=0)
    rewards: Mapped[int] = mapped_column(Integer, default=0)
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # The offer whose mechanic gave (a ``bonus``) or took back (a ``reverse``) the points.
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_ledger_entries_card_id_id", "card_id", "id"),
        # Few entries name an offer: the index holds those only.
        Index("ix_ledger_entries_offer_id", "offer_id",
              postgresql_where=text("offer_id IS NOT NULL"),
              sqlite_where=text("offer_id IS NOT NULL")),
        Index("ix_ledger_entries_api_key_created", "api_key_id", "created_at"),
        # The stats (0026): covering, so that points per day read the index alone.
        Index("ix_ledger_entries_merchant_created", "merchant_id", "created_at",
              postgresql_include=["card_id", "kind", "points", "location_id"]),
        CheckConstraint(
            "kind IN ('welcome', 'earn', 'redeem', 'bonus', 'adjust', 'reverse', 'expire')",
            name="kind",
        ),
    )


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("merchant_id", "key", name="uq_idempotency_merchant_key"),)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Who looked at it and said so (``app.ledger.alerts.acknowledge_alert``).
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledged_by_api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    # The detector's alerts (``app.ledger.fraud_patterns``): the staff member at the till
    # (a purchase at the dashboard's cashier screen has no key), what the pattern rests on
    # (the purchases, entries or cards, listed), and the key that makes one pattern in one
    # period one alert however often the detector runs (null for velocity refusals).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_alerts_program_id", "program_id", "id"),
        Index("uq_alerts_merchant_dedupe_key", "merchant_id", "dedupe_key", unique=True),
    )


class FraudCursor(Base):
    """How far the fraud detector has read a table (``name``): every row with an id up to
    ``last_id`` was looked at. It only moves forward."""

    __tablename__ = "fraud_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditRecord(Base):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
