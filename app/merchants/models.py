"""Merchants, staff, API keys, programs and locations.

A program's name, reward text and terms may be written per language (``app.texts``):
the plain column (``name``, ``reward_text``, ``terms``) always holds the text in the
program's first language, for everything that wants one string (slugs, logs, the till);
its ``*_texts`` column holds ``{language: text}`` when the merchant wrote one per
language, and is NULL when they wrote one string for all (every program stored before
texts could be localized reads so). ``*_given`` is the text as the merchant gave it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import Base
from app.texts import LocalizedValue

ROLES = ("owner", "manager", "cashier", "analyst")


class ContactRule(enum.StrEnum):
    """Which contact a program's join form asks for and requires (``Program.contact``)."""

    EMAIL = "email"  # the email field alone, required
    PHONE = "phone"  # the phone field alone, required
    EITHER = "either"  # both fields; one of them is enough
    BOTH = "both"  # both fields, both required

    @property
    def asks_email(self) -> bool:
        return self is not ContactRule.PHONE

    @property
    def asks_phone(self) -> bool:
        return self is not ContactRule.EMAIL

    @property
    def required_fields(self) -> tuple[str, ...]:
        return {ContactRule.EMAIL: ("email",), ContactRule.PHONE: ("phone",),
                ContactRule.EITHER: (), ContactRule.BOTH: ("email", "phone")}[self]


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Raised by every change that must end the member's other sessions (a new password,
    # a new role, new locations, removal): a session carries the number it began with.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)

    merchant: Mapped[Merchant] = relationship()
    locations: Mapped[list[StaffLocation]] = relationship(
        cascade="all, delete-orphan", order_by="StaffLocation.location_id")

    @property
    def active(self) -> bool:
        return self.removed_at is None

    @property
    def location_ids(self) -> frozenset[int]:
        return frozenset(limit.location_id for limit in self.locations)

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'cashier', 'analyst')", name="role"),
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    merchant: Mapped[Merchant] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'cashier', 'analyst')", name="role"),
    )


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="points")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    country: Mapped[str | None] = mapped_column(String(2))
    earn_percent: Mapped[Decimal] = mapped_column(Numeric(7, 3), default=Decimal(0))
    point_value: Mapped[int] = mapped_column(Integer, default=100)
    welcome_points: Mapped[int] = mapped_column(Integer, default=0)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    stamps_required: Mapped[int | None] = mapped_column(Integer)
    reward_text: Mapped[str] = mapped_column(Text, default="")
    colors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    locales: Mapped[list[str]] = mapped_column(JSON, default=list)
    barcode_format: Mapped[str] = mapped_column(String(16), default="qr")
    limits: Mapped[dict[str, int | None]] = mapped_column(JSON, default=dict)
    # The fraud detector's thresholds as the merchant set them; what is missing takes its
    # default (``app.ledger.fraud_settings``).
    fraud: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    triggers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    max_redeem_percent: Mapped[Decimal] = mapped_column(Numeric(7, 3), default=Decimal(100))
    points_expire_days: Mapped[int | None] = mapped_column(Integer)
    # What rewards may cost, as a share of turnover (the analytics page's budget line).
    reward_budget_percent: Mapped[Decimal] = mapped_column(
        Numeric(7, 3), default=Decimal(3), server_default="3")
    stamp_min_amount: Mapped[int | None] = mapped_column(BigInteger)
    terms: Mapped[str] = mapped_column(Text, default="")
    name_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    reward_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    terms_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # The join form (``app.cards.contacts``): which contact it requires, whether it asks
    # for a birthday, and where its terms and privacy notice are (a URL of the merchant's,
    # or ``terms``/``privacy`` served as a page of their own).
    contact: Mapped[str] = mapped_column(String(8), default=ContactRule.EITHER.value,
                                         server_default=ContactRule.EITHER.value)
    ask_birthday: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    terms_url: Mapped[str | None] = mapped_column(String(500))
    privacy: Mapped[str] = mapped_column(Text, default="", server_default="")
    privacy_url: Mapped[str | None] = mapped_column(String(500))
    support_email: Mapped[str | None] = mapped_column(String(320))
    support_phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(500))
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_content_type: Mapped[str | None] = mapped_column(String(32))
    # Deferred: loaded when a pass design is drawn, not with every card that joins its
    # program (a photo may be a few megabytes).
    strip_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    strip_content_type: Mapped[str | None] = mapped_column(String(32))
    stamp_icon: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    stamp_icon_content_type: Mapped[str | None] = mapped_column(String(32))
    design_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    locations: Mapped[list[Location]] = relationship(
        back_populates="program", order_by="Location.id"
    )

    __table_args__ = (
        CheckConstraint("kind IN ('points', 'stamps')", name="kind"),
        CheckConstraint("point_value > 0", name="point_value_positive"),
        CheckConstraint("welcome_points >= 0", name="welcome_points_not_negative"),
        CheckConstraint("contact IN ('email', 'phone', 'either', 'both')", name="contact"),
    )

    @property
    def name_given(self) -> LocalizedValue:
        return self.name_texts if self.name_texts is not None else self.name

    @property
    def reward_text_given(self) -> LocalizedValue:
        return self.reward_texts if self.reward_texts is not None else self.reward_text

    @property
    def terms_given(self) -> LocalizedValue:
        return self.terms_texts if self.terms_texts is not None else self.terms


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    program: Mapped[Program] = relationship(back_populates="locations")


class StaffLocation(Base):
    """A location a staff member is limited to; a member with none works at all of them."""

    __tablename__ = "staff_locations"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                          primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"),
                                             primary_key=True)


class StaffLinkPurpose(enum.StrEnum):
    INVITE = "invite"  # sets the first password of an invited member
    RESET = "reset"  # sets a new password for a member who forgot theirs


class StaffLink(Base):
    """A one-time link mailed to a staff member (``app.merchants.links``): the row says
    whom, what for and until when; the mailed token is its id and a MAC, never stored."""

    __tablename__ = "staff_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                          index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    staff: Mapped[Staff] = relationship()

    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),)


class StaffEvent(Base):
    """The staff action log: who (a member, or an API key), what, to whom, when, where.
    ``detail`` holds ids, roles and counts, never a password or a token."""

    __tablename__ = "staff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_staff_events_merchant_id", "merchant_id", "id"),)
