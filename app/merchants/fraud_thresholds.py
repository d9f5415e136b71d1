"""A program's fraud thresholds: when the detector (``app.ledger.fraud_patterns``) calls
a pattern suspicious. Beyond the velocity limits (``limits``, which refuse a purchase),
these only raise alerts for a person to look at.

Every threshold has a default a café can live with; null switches its pattern off.
``programs.fraud`` stores what the merchant sent (``{}``: every default); a program's
``fraud`` in the API is always the whole set as it applies. Sending ``fraud`` replaces
the set: what it leaves out takes its default again.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError

from app.validation import WHOLE, Body

MINUTES_IN_A_WEEK = 7 * 24 * 60
# The thresholds that may be null, each switching its pattern off.
SWITCHES = ("same_card_scans_per_day", "threshold_min_purchases", "redeem_elsewhere_minutes",
            "enrolments_per_origin")


Scans = Annotated[int, Field(ge=2, le=1000), WHOLE]
Purchases = Annotated[int, Field(ge=5, le=100000), WHOLE]
BandPercent = Annotated[int, Field(ge=1, le=50), WHOLE]
Days = Annotated[int, Field(ge=1, le=365), WHOLE]
Minutes = Annotated[int, Field(ge=1, le=MINUTES_IN_A_WEEK), WHOLE]
Cards = Annotated[int, Field(ge=2, le=100000), WHOLE]


class FraudThresholds(Body):
    """The thresholds as they apply (defaults filled in)."""

    same_card_scans_per_day: Scans | None = Field(default=5, description=(
        "A cashier (key or staff member) recording this many purchases or more on one "
        "card in one day (UTC) raises 'repeated_scans'; null: off."))
    threshold_min_purchases: Purchases | None = Field(default=20, description=(
        "How many purchases of one cashier near a bonus threshold (a min_amount trigger, "
        "the stamp's minimum amount) it takes before 'threshold_amounts' is tested; "
        "null: off."))
    threshold_band_percent: BandPercent = Field(default=5, description=(
        "The band on each side of a threshold, as a percentage of it: purchases from the "
        "threshold up to threshold + band count as just over, those in the band below "
        "as just under."))
    threshold_days: Days = Field(default=30, description=(
        "How many days back the threshold test counts a cashier's purchases."))
    redeem_elsewhere_minutes: Minutes | None = Field(default=120, description=(
        "Points redeemed at one location within this many minutes after the card earned "
        "at another raise 'redeem_elsewhere'; null: off."))
    enrolments_per_origin: Cards | None = Field(default=5, description=(
        "This many cards or more joined from one device or address (the join form) "
        "within enrolment_window_minutes raise 'enrolment_burst'; null: off."))
    enrolment_window_minutes: Minutes = Field(default=60, description=(
        "The window enrolments_per_origin counts in."))


def thresholds_of(stored: dict[str, Any] | None) -> FraudThresholds:
    """The thresholds a program's stored ``fraud`` means; a stored value that no longer
    passes (written by hand) falls back to the defaults as a whole."""
    try:
        return FraudThresholds.model_validate(stored or {})
    except ValidationError:
        return FraudThresholds()
