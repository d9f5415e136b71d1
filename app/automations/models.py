"""The rules a program has switched on, its automation settings, and what each rule sent.

A rule's texts live in its ``Offer`` (``offer_id``); ``settings`` holds the rule's own
numbers (``app.automations.schemas`` names and bounds them). ``AutomationSend.period``
says which occasion a send was for: ``joined`` (welcome), the year (birthday), the day of
the last visit (we miss you) or the tier reached (tier upgrade).
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
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base

WELCOME, BIRTHDAY, WE_MISS_YOU, TIER_UPGRADE = "welcome", "birthday", "we_miss_you", "tier_upgrade"
RULE_KINDS = (WELCOME, BIRTHDAY, WE_MISS_YOU, TIER_UPGRADE)


class AutomationSettings(Base):
    """A program's automation switches: the weekly cap and the pause over budget."""

    __tablename__ = "automation_settings"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    weekly_cap: Mapped[int] = mapped_column(Integer, default=2)
    pause_over_budget: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AutomationRule(Base):
    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("program_id", "kind"),
        CheckConstraint("kind IN ('welcome', 'birthday', 'we_miss_you', 'tier_upgrade')",
                        name="kind"),
    )


class AutomationSend(Base):
    """One occasion a rule acted on for a card: sent, or held out (the control group)."""

    __tablename__ = "automation_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    period: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("rule_id", "card_id", "period"),
        Index("ix_automation_sends_card_id", "card_id", "created_at"),
    )
