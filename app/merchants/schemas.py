"""What a merchant may send to create or change a program or a location.

The program's name, reward text, terms and each tier's name are localized texts
(``app.texts``): a string, or an object of languages to strings. What only the program's
languages can tell (that an object holds the first and no other) is checked by the use
case, which knows them (``app.merchants.service``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, EmailStr, Field, HttpUrl, StrictBool, model_validator

from app.merchants.fraud_thresholds import FraudThresholds
from app.merchants.models import ContactRule
from app.texts import LocalizedText, LocalizedValue
from app.validation import LINE, LINES, MAX_INT, MAX_INT32, WHOLE, Body, Count, Percent, Real

HexColor = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Locale = Literal["en", "ru", "uk"]
BarcodeFormat = Literal["qr", "pdf417", "aztec", "code128"]


def _known_country(code: str) -> str:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be an ISO 3166 alpha-2 country code, such as UA")
    return code


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), AfterValidator(_known_country)]
# Which contact the join form requires (``ContactRule``), given by its value.
ContactSetting = Annotated[ContactRule, Field(strict=False)]

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
    country: Country | None = Field(None, description=(
        "ISO 3166 alpha-2 country whose local phone numbers customers may type "
        "('067 123 45 67' in UA); on creation it defaults to the one country whose "
        "currency 'currency' is, and stays null when several share it (USD, EUR): "
        "customers then write numbers with their country code."))
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
    fraud: FraudThresholds | None = Field(None, description=(
        "The fraud detector's thresholds (each null: that pattern off); sent, the whole "
        "set is replaced and what it leaves out takes its default."))
    triggers: Annotated[list[TriggerInput], Field(max_length=10)] | None = None
    max_redeem_percent: Percent | None = None
    reward_budget_percent: Percent | None = Field(None, description=(
        "What rewards may cost, as a percent of turnover: the value of the points issued "
        "over the amounts paid (default 3). The analytics page and the stats compare the "
        "program against it."))
    points_expire_days: Annotated[int, Field(ge=1, le=3650), WHOLE] | None = None
    stamp_min_amount: Count | None = None
    terms: (Annotated[LocalizedValue, LocalizedText(4000, multiline=True)]
           | None) = None
    contact: ContactSetting | None = Field(None, description=(
        "Which contact the join form asks for and requires: 'email' or 'phone' (that one "
        "field), 'either' (both fields, one is enough; the default) or 'both'."))
    ask_birthday: StrictBool | None = Field(None, description=(
        "Whether the join form asks for the customer's birthday (never required)."))
    terms_url: Annotated[HttpUrl, LINE] | None = Field(None, description=(
        "The merchant's terms on their own site, linked from the join form; without it "
        "the join form links 'terms' as a page of its own, when there are terms."))
    privacy: Annotated[str, Field(max_length=20000), LINES] | None = Field(None, description=(
        "The merchant's privacy notice, served as a page linked from the join form unless "
        "privacy_url is given."))
    privacy_url: Annotated[HttpUrl, LINE] | None = Field(None, description=(
        "The merchant's privacy notice on their own site, linked from the join form."))
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
