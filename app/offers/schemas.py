"""What a merchant sends to create an offer.

Its title and body are localized texts (``app.texts``), checked against the program's
languages by ``app.offers.service.create_offer``. ``audience.tiers`` names tiers by key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from app.texts import LocalizedText, LocalizedValue
from app.validation import LINE, WHOLE, Body, Moment

TierName = Annotated[str, Field(min_length=1, max_length=40), LINE]
MAX_OFFER_POINTS = 1_000_000
OfferPoints = Annotated[int, Field(ge=1, le=MAX_OFFER_POINTS), WHOLE]


def _factor(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return Decimal(str(value))


Factor = Annotated[Decimal, BeforeValidator(_factor),
                   Field(gt=1, le=10, max_digits=4, decimal_places=2)]


class BonusPoints(Body):
    """N points more on every purchase in the offer's window."""

    type: Literal["bonus_points"]
    points: OfferPoints


class Multiplier(Body):
    """The earned points times ``factor`` (bonus = earned × (factor − 1))."""

    type: Literal["multiplier"]
    factor: Factor


class Coupon(Body):
    """Once per card, applied by the cashier: points, a text, or both."""

    type: Literal["coupon"]
    points: OfferPoints | None = None
    text: Annotated[str, Field(min_length=1, max_length=80), LINE] | None = None

    @model_validator(mode="after")
    def _gives_something(self) -> Coupon:
        if self.points is None and self.text is None:
            raise ValueError("a coupon gives points, a text (what the cashier hands over), "
                             "or both")
        return self


MechanicInput = Annotated[BonusPoints | Multiplier | Coupon, Field(discriminator="type")]


class AudienceInput(Body):
    """Who gets the offer; every key optional, ``{}`` is everyone."""

    tiers: Annotated[list[TierName], Field(max_length=20)] | None = None
    segments: Annotated[list[Annotated[str, Field(min_length=1, max_length=40), LINE]],
                        Field(max_length=20)] | None = None
    inactive_days: Annotated[int, Field(ge=1, le=3650), WHOLE] | None = None
    holdout_percent: Annotated[int, Field(ge=0, le=90), WHOLE] | None = None


class OfferCreate(Body):
    title: Annotated[LocalizedValue, LocalizedText(80, min_length=1)]
    body: Annotated[LocalizedValue, LocalizedText(500, multiline=True)] = ""
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    audience: AudienceInput = Field(default_factory=AudienceInput)
    promotional: bool = True
    mechanic: MechanicInput | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> OfferCreate:
        if self.ends_at is not None and self.starts_at is not None and (
                self.ends_at <= self.starts_at):
            raise ValueError("ends_at must be after starts_at")
        return self


def naive_utc(value: datetime | None) -> datetime | None:
    """Timestamps are stored as naive UTC, like every other in the schema."""
    if value is None:
        return None
    offset = value.utcoffset()
    return (value - offset).replace(tzinfo=None) if offset is not None else value
