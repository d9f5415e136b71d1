"""Offers and the cards each one was published to.

An offer's title and body may be written per language, as a program's name may
(``app.merchants.models``): ``title``/``body`` hold the text in the program's first
language, ``title_texts``/``body_texts`` the ``{language: text}`` written, or NULL.

An offer may act at the till (``mechanic``, ``app.offers.mechanics``): bonus points on
each purchase in its window, a multiplier of the earn rate, or a one-time coupon the
cashier applies. Each card redeems a coupon at most once: ``coupon_redemptions`` holds
one row per (offer, card), unique, written with the purchase that used it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base
from app.texts import LocalizedValue

# A draft is published by hand; published ahead of its start it is scheduled until the
# worker publishes it; it ends when its end passes (or by hand) and leaves every pass.
OFFER_STATUSES = ("draft", "scheduled", "published", "ended")
SHOWN_OFFERS = 3  # offers on a pass: it has room for a few; the newest win


class Offer(Base):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    title_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    promotional: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # What it does at the till (``app.offers.mechanics``): NULL for text on the pass only.
    mechanic: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    # An automatic offer (``app.automations``): published to one card at a time.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)  # left every pass it was on
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(status) for status in OFFER_STATUSES)})",
                        name="status"),
        Index("ix_offers_status_starts_at", "status", "starts_at"),
    )

    @property
    def title_given(self) -> LocalizedValue:
        return self.title_texts if self.title_texts is not None else self.title

    @property
    def body_given(self) -> LocalizedValue:
        return self.body_texts if self.body_texts is not None else self.body


class CardOffer(Base):
    """One card an offer was published to; ``held_out`` cards are the control group."""

    __tablename__ = "card_offers"

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # When the offer leaves this card's pass (an automatic offer's send lasts a while);
    # NULL: while the offer lasts.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_card_offers_card_id", "card_id"),)


class CouponRedemption(Base):
    """A coupon (an offer whose mechanic is ``coupon``) one card used, in one purchase."""

    __tablename__ = "coupon_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("offer_id", "card_id",
                                       name="uq_coupon_redemptions_offer_card"),)
