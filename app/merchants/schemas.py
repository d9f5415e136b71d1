"""What a merchant may send to create or change a program or a location.

The program's name, reward text, terms and each tier's name are localized texts
(``app.texts``): a string, or an object of languages to strings. What only the program's
languages can tell (that an object holds the first and no other) is checked by the use
case, which knows them (``app.merchants.service``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field, HttpUrl, model_validator

from app.texts import LocalizedText, LocalizedValue
from app.validation import LINE, LINES, MAX_INT, MAX_INT32, WHOLE, Body, Count, Percent, Real

HexColor = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Locale = Literal["en", "ru", "uk"]
BarcodeFormat = Literal["qr", "pdf417", "aztec", "code128"]

DEFAULT_COLORS = {"background": "#1F2A44", "foreground": "#FFFFFF", "label": "#C9D3E6"}


TIER_KEY_LENGTH = 40
TierKey = Annotated[str, Field(min_length=1, max_length=TIER_KEY_LENGTH), LINE]


class TierInput(Body):
    """A tier. ``key`` is its identity (what a card records, what offers target); left
    out, it is the name, or the name in the program's first language."""

    key: Annotated[TierKey | None, Field(description=(
        "The tier's identity: what a card's tier holds and an offer's audience names. "
        "Left out: the name, or the name in the program's first language."))] = None
    name: Annotated[LocalizedValue, LocalizedText(TIER_KEY_LENGTH, min_length=1)]
    min_spend: Count
    earn_percent: Percent


class ColorsInput(Body):
    background: HexColor = DEFAULT_COLORS["background"]
    foreground: HexColor = DEFAULT_COLORS["foreground"]
    label: HexColor = DEFAULT_COLORS["label"]


Limit = Annotated[int, Field(ge=1, le=MAX_INT), WHOLE] | None


class LimitsInput(Body):
    purchases_per_card_per_hour: Limit = None
    purchases_per_card_per_day: Limit = None
    points_per_cashier_per_day: Limit = None


class TriggerInput(Body):
    """A bonus rule: every Nth visit, or a purchase from an amount up."""

    kind: Literal["nth_visit", "min_amount"]
    points: Annotated[int, Field(ge=1, le=MAX_INT), WHOLE]
    every: Annotated[int, Field(ge=2, le=1000), WHOLE] | None = None
    amount: Annotated[int, Field(ge=1, le=MAX_INT), WHOLE] | None = None

    @model_validator(mode="after")
    def _complete(self) -> TriggerInput:
        if self.kind == "nth_visit" and self.every is None:
            raise ValueError("an nth_visit trigger needs 'every'")
        if self.kind == "min_amount" and self.amount is None:
            raise ValueError("a min_amount trigger needs 'amount'")
        return self


class ProgramFields(Body):
    """Every field of a program a merchant may set; all optional here."""

    name: Annotated[LocalizedValue, LocalizedText(120, min_length=1)] | None = None
    kind: Literal["points", "stamps"] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    earn_percent: Percent | None = None
    point_value: Annotated[int, Field(ge=1, le=MAX_INT32), WHOLE] | None = None
    welcome_points: Annotated[int, Field(ge=0, le=MAX_INT32), WHOLE] | None = None
    tiers: Annotated[list[TierInput], Field(max_length=10)] | None = None
    stamps_required: Annotated[int, Field(ge=1, le=100), WHOLE] | None = None
    reward_text: Annotated[LocalizedValue, LocalizedText(500)] | None = None
    colors: ColorsInput | None = None
    locales: Annotated[list[Locale], Field(min_length=1, max_length=3)] | None = None
    barcode_format: BarcodeFormat | None = None
    limits: LimitsInput | None = None
    triggers: Annotated[list[TriggerInput], Field(max_length=10)] | None = None
    max_redeem_percent: Percent | None = None
    points_expire_days: Annotated[int, Field(ge=1, le=3650), WHOLE] | None = None
    stamp_min_amount: Count | None = None
    terms: (Annotated[LocalizedValue, LocalizedText(4000, multiline=True)]
           | None) = None
    support_email: Annotated[EmailStr, LINE] | None = None
    support_phone: Annotated[str, Field(max_length=32), LINE] | None = None
    website: Annotated[HttpUrl, LINE] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProgramFields:
        if self.tiers is not None:
            spends = [tier.min_spend for tier in self.tiers]
            if spends != sorted(set(spends)):
                raise ValueError("tiers: min_spend must rise strictly from one tier to the next")
        if self.locales is not None and len(set(self.locales)) != len(self.locales):
            raise ValueError("locales: each locale may appear once")
        return self


class ProgramCreate(ProgramFields):
    name: Annotated[LocalizedValue, LocalizedText(120, min_length=1)]
    slug: Slug | None = None


class ProgramUpdate(ProgramFields):
    slug: Slug | None = None  # accepted only unchanged: printed QR codes carry it


class LocationCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=200), LINE]
    address: Annotated[str, Field(max_length=500), LINES] = ""
    latitude: Annotated[Real, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[Real, Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> LocationCreate:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together")
        return self


class ApiKeyCreate(Body):
    role: Literal["owner", "manager", "cashier", "analyst"]
    name: Annotated[str, Field(max_length=200), LINE] = ""
    location_id: Annotated[int, Field(ge=1, le=MAX_INT32), WHOLE] | None = None
