"""Customers, cards, and the one-time links that let a returning customer open their card.

A card's own link (``card_url``) is its serial number and a MAC of it and of
``link_version`` (``app.wallet.service``); reissuing the link bumps the version, so every
earlier link stops working. A recovery link is a row here and, in the mail, its id with a
MAC: the database never holds a usable secret.

A customer who deleted their data keeps a row (the ledger's cards point at it) with every
personal field erased and ``erased_at`` set; their cards are ``deleted`` for good (the
pass voided). Changes a customer or the merchant makes to a customer's data leave an
``AuditEvent`` naming the fields changed, never their values.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cards.attribution import ORIGIN_LENGTH, SOURCE_MAX_LENGTH
from app.cards.numbers import LEGACY_NUMBER_MAX_LENGTH
from app.clock import utcnow
from app.db import Base
from app.merchants.models import Program
from app.secret_keys import KEY_ID_LENGTH


def next_pass_stamps(version: int, updated_at: datetime, last_modified: datetime,
                     now: datetime | None = None) -> tuple[int, datetime, datetime]:
    """The pass version, tag time and Last-Modified after a change at ``now`` (the
    clock's): each strictly newer than before even if the clock stood still
    (Last-Modified has whole seconds)."""
    now = now or utcnow()
    return (version + 1, max(now, updated_at + timedelta(microseconds=1)),
            max(now.replace(microsecond=0), last_modified + timedelta(seconds=1)))


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the consent now held (or last withdrawn) was given, and when it was withdrawn.
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    birthday: Mapped[date | None] = mapped_column(Date)  # for birthday offers; optional
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)  # their data deleted
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("merchant_id", "email", name="uq_customers_merchant_email"),
        UniqueConstraint("merchant_id", "phone", name="uq_customers_merchant_phone"),
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL OR erased_at IS NOT NULL",
                        name="reachable"),
    )


# The card search's (``app.cards.search``; migration 0015), on PostgreSQL only: SQLite
# matches the same fragments by scanning. Trigrams find a fragment anywhere in a name or
# an email; the phone read backwards finds a number by its end, as a cashier types it.
Index("ix_customers_name_trigrams", func.lower(Customer.name).label("name_lower"),
      postgresql_using="gin", postgresql_ops={"name_lower": "gin_trgm_ops"}
      ).ddl_if(dialect="postgresql")
Index("ix_customers_email_trigrams", func.lower(Customer.email).label("email_lower"),
      postgresql_using="gin", postgresql_ops={"email_lower": "gin_trgm_ops"}
      ).ddl_if(dialect="postgresql")
Index("ix_customers_phone_reversed", Customer.merchant_id,
      func.reverse(Customer.phone).label("phone_reversed"),
      postgresql_ops={"phone_reversed": "text_pattern_ops"}).ddl_if(dialect="postgresql")


class CardStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # by the merchant, who may unblock it
    DELETED = "deleted"  # its holder deleted their data: for good


# Every purchase updates its card's row. Filled to 90 %, a page keeps room for the next
# version of its rows, and with no indexed column changed (balance, visits, spend and the
# pass's stamps are in no index) PostgreSQL writes it there without an entry in each of
# the ten indexes (a "HOT" update; migration 0035).
CARDS_FILLFACTOR = 90


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # Where the customer joined: the counter's location and the join link's campaign tag
    # (``app.cards.attribution``); null when the link named none.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    source: Mapped[str | None] = mapped_column(String(SOURCE_MAX_LENGTH))
    # Where the join form was sent from, as a keyed digest of the client's address
    # (``app.cards.attribution.enrolment_origin``): never the address itself. Null for
    # cards the merchant enrolled (API, import, the dashboard). The detector counts the
    # cards enrolled from one origin in a short time (``app.ledger.fraud_patterns``).
    enrolled_from: Mapped[str | None] = mapped_column(String(ORIGIN_LENGTH))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    authentication_token: Mapped[str] = mapped_column(String(64))
    # 0: the link every card had before links could be reissued (its MAC is the old one).
    link_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.ACTIVE.value)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    tier: Mapped[str | None] = mapped_column(String(64))
    stamps: Mapped[int] = mapped_column(Integer, default=0)
    rewards: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_spend: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    last_visit_at: Mapped[datetime | None] = mapped_column(DateTime)
    pass_version: Mapped[int] = mapped_column(Integer, default=1)
    # Not indexed: every purchase moves it, and no query needs it (migration 0006).
    pass_updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    pass_last_modified: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    program: Mapped[Program] = relationship(lazy="joined")
    customer: Mapped[Customer] = relationship(lazy="joined")

    def mark_pass_changed(self) -> None:
        """A newer tag for the web service, and a Last-Modified a whole second later."""
        self.pass_version, self.pass_updated_at, self.pass_last_modified = next_pass_stamps(
            self.pass_version, self.pass_updated_at, self.pass_last_modified)

    __table_args__ = (
        UniqueConstraint("program_id", "customer_id", name="uq_cards_program_customer"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("stamps >= 0", name="stamps_not_negative"),
        CheckConstraint("rewards >= 0", name="rewards_not_negative"),
        CheckConstraint("status IN ('active', 'blocked', 'deleted')", name="status"),
        # A program's cards newest first, and those a location's own key sees (the search).
        Index("ix_cards_program_id_id", "program_id", "id"),
        Index("ix_cards_program_id_location_id_id", "program_id", "location_id", "id"),
        Index("ix_cards_enrolled_from", "program_id", "enrolled_from", "created_at"),
        Index("ix_cards_program_created", "program_id", "created_at"),  # enrolments per day
        # The worker's card counts (0026) by tier and status from the index alone; not the
        # balance, which every purchase changes: see CARDS_FILLFACTOR.
        Index("ix_cards_program_location_figures", "program_id", "location_id",
              postgresql_include=["tier", "status"]),
        {"postgresql_with": {"fillfactor": CARDS_FILLFACTOR}},
    )

    @property
    def pass_voided(self) -> bool:
        """Whether its passes show as void: blocked by the merchant, or deleted."""
        return self.status != CardStatus.ACTIVE


class LegacyCardNumber(Base):
    """A number the customer's card had in the merchant's previous program (a plastic card,
    a spreadsheet), brought by an import: the till finds the card by it when no card of the
    merchant has that number (``app.cards.service.card_by_scan``). Stored as
    ``app.cards.numbers.legacy_number`` normalizes it; one card per number in a program
    (the import also keeps it to one card per merchant)."""

    __tablename__ = "legacy_card_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    number: Mapped[str] = mapped_column(String(LEGACY_NUMBER_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("program_id", "number", name="uq_legacy_card_numbers_program_number"),
        Index("ix_legacy_card_numbers_merchant_number", "merchant_id", "number"),
    )


class CardRecoveryLink(Base):
    """A one-time link mailed to a returning customer: opening it (once, before
    ``expires_at``) shows their card of ``program_id``, enrolling them in it first when
    they have none there yet (``card_id`` null)."""

    __tablename__ = "card_recovery_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    source: Mapped[str | None] = mapped_column(String(SOURCE_MAX_LENGTH))  # the join's tag
    locale: Mapped[str] = mapped_column(String(8))
    requested_from: Mapped[str | None] = mapped_column(String(64))  # the client's address
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What the join form held that the customer's record lacks or has otherwise
    # (``app.cards.recovery``): offered to the mailbox's owner when they open the link,
    # stored only if they tick it, and cleared when the link is used.
    proposed_name: Mapped[str | None] = mapped_column(String(200))
    proposed_email: Mapped[str | None] = mapped_column(String(320))
    proposed_phone: Mapped[str | None] = mapped_column(String(32))
    proposed_birthday: Mapped[date | None] = mapped_column(Date)
    proposed_consent: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())

    program: Mapped[Program] = relationship(lazy="joined")
    customer: Mapped[Customer] = relationship()

    __table_args__ = (
        # The per-customer limit counts the links of the last hour.
        Index("ix_card_recovery_links_customer_created", "customer_id", "created_at"),
    )


class AuditActor(StrEnum):
    """Who changed a customer's data."""

    CUSTOMER = "customer"  # on their card's page, holding its secret link
    MERCHANT_KEY = "merchant_key"  # through the API, with ``api_key_id``
    SYSTEM = "system"  # Loyalpass itself (a scheduled job, a migration)


class AuditEvent(Base):
    """One change of a customer's data or consent, written in the transaction that made
    it. ``detail`` names the fields changed (``{"fields": ["email"]}``) and never holds a
    personal value: the trail outlives an erasure."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    actor: Mapped[str] = mapped_column(String(16))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    action: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("actor IN ('customer', 'merchant_key', 'system')", name="actor"),
        Index("ix_audit_events_customer_id_id", "customer_id", "id"),
        Index("ix_audit_events_card_id", "card_id"),
    )


class SigningKey(Base):
    """A secret key that has been the current one, by its public id
    (``app.secret_keys.key_id``), and the re-signing of the passes handed out before it
    (``app.cards.rotation``): the key became current at ``current_since``; a pass last
    changed before that (and a grace for every process to restart with it) may carry an
    older key. ``resign_after_card_id`` is how far the re-signing has come, by card id;
    ``resign_next_at`` the pace's clock, shared by every worker; ``resigned_at`` when no
    pass carried an older key any more."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH), primary_key=True)
    current_since: Mapped[datetime] = mapped_column(DateTime)
    resign_after_card_id: Mapped[int] = mapped_column(BigInteger, default=0,
                                                      server_default="0")
    resign_next_at: Mapped[datetime | None] = mapped_column(DateTime)
    resigned_at: Mapped[datetime | None] = mapped_column(DateTime)
