"""Outbox rows (one per committed change of a card's pass) and the mail queue."""

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
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base


class QueuedRow:
    """What every row waiting to be sent after commit has: pending until sent, leased by
    one worker at a time (``leased_until``; ``leased_by`` names the worker process, whose
    death frees the lease at once: ``app.delivery.presence``), tried again from
    ``available_at`` after a failure (``attempts``, ``last_error``), then sent or parked
    as failed."""

    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime)
    leased_by: Mapped[int | None] = mapped_column(Integer)  # ``workers.id``, no key: reaped
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


def leased_by_index(table: str, column: str = "leased_by") -> Index:
    """The rows some worker holds now (few: a lease is cleared when its answer is
    recorded), found by worker when it extends its leases or another frees a dead one's."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_{table}_{column}", column, postgresql_where=where, sqlite_where=where)


class OutboxMessage(QueuedRow, Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    # A card's change, or (card_id null) every card of a program (a design change).
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    topic: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # An offer's row: the last of its cards (by id) already fanned out, while more are
    # left (``app.delivery.fanout``); None before its first chunk.
    fanned_through: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_outbox_status_available", "status", "available_at"),
        Index("ix_outbox_card_id", "card_id"),
    )


MAIL_KIND_CARD_RECOVERY = "card_recovery"
MAIL_KIND_STAFF_INVITE = "staff_invite"
MAIL_KIND_PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of mail)
MAIL_KINDS = (MAIL_KIND_CARD_RECOVERY, MAIL_KIND_STAFF_INVITE, MAIL_KIND_PASSWORD_RESET)
MAIL_KINDS_CHECK = "kind IN ('card_recovery', 'staff_invite', 'password_reset')"
MAIL_STATES = ("pending", "sent", "failed")


class Mail(QueuedRow, Base):
    """A mail to a customer or a staff member, written in the transaction that decided to
    send it and sent by the mail worker after commit (``app.delivery.mail``): pending until
    the server took it, leased by one worker at a time, parked as failed after its last
    attempt. The body is composed at send time; a recovery mail names its link (a staff
    member's mail its ``StaffLink``), whose token is built then."""

    __tablename__ = "mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recovery_link_id: Mapped[int | None] = mapped_column(ForeignKey("card_recovery_links.id"))
    # A staff member's invitation or password reset (``app.merchants.models.StaffLink``).
    staff_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_links.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        CheckConstraint(MAIL_KINDS_CHECK, name="kind"),
        Index("ix_mails_due", "status", "available_at"),
        leased_by_index("mails"),
    )
