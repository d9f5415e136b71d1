"""What a merchant or a customer sends to enrol a card, and to reissue a card's link."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StringConstraints

from app.cards.attribution import SOURCE_MAX_LENGTH, SOURCE_PATTERN, SOURCE_RULE, campaign_source
from app.cards.contacts import API_MESSAGES, birthday_fault
from app.clock import utcnow
from app.validation import LINE, MAX_INT32, WHOLE, Body


def _date_text(value: Any) -> Any:
    if not isinstance(value, str | date):
        raise ValueError("must be a date, YYYY-MM-DD, as a string")
    return value


def _a_birthday(value: date) -> date:
    fault = birthday_fault(value, today=utcnow().date())
    if fault is not None:
        raise ValueError(API_MESSAGES[fault])
    return value


# JSON has no date: "1990-05-17", from 1900 to today.
Birthday = Annotated[date, Field(strict=False), BeforeValidator(_date_text),
                     AfterValidator(_a_birthday)]


class EnrolmentInput(Body):
    name: Annotated[str, Field(min_length=1, max_length=200), LINE]
    email: Annotated[str, Field(max_length=320), LINE] | None = None
    phone: Annotated[str, Field(max_length=40), LINE] | None = None
    marketing_consent: StrictBool = False
    locale: Literal["en", "ru", "uk"] | None = None
    birthday: Birthday | None = None
    # Which contact is required is the program's choice (``contact``), checked with the
    # program at hand (``app.cards.contacts.read_contact``).


def _a_campaign_tag(value: str) -> str:
    """The join page's rule for ``?src=`` (``campaign_source``), refused instead of dropped."""
    if campaign_source(value) is None:
        raise ValueError(SOURCE_RULE)
    return value


class MerchantEnrolmentInput(EnrolmentInput):
    """What the merchant's API sends to enrol a customer: the enrolment, and where it
    happened, as a join link records it (``app.cards.attribution``)."""

    location_id: Annotated[int, Field(ge=1, le=MAX_INT32, description=(
        "one of the program's locations: where the customer joined")), WHOLE] | None = None
    source: Annotated[str, StringConstraints(strip_whitespace=False), Field(
        max_length=SOURCE_MAX_LENGTH,
        description=f"campaign tag, as ?src= of a join link: {SOURCE_RULE}",
        json_schema_extra={"pattern": f"^{SOURCE_PATTERN.pattern}$"}),
        AfterValidator(_a_campaign_tag)] | None = None


class CardLinkInput(Body):
    """The body of POST /api/v1/cards/{id}/link; it may be left out (a new link only)."""

    reset_pass_token: StrictBool = Field(False, description=(
        "Also replace the pass's authenticationToken, which Apple's web service checks: a "
        "copy of the pass that leaked (anyone who had the old link could download it) can "
        "no longer fetch updates or register devices; devices registered with the old "
        "token are forgotten and the customer adds the pass again from the new link."))
