"""What a merchant or a customer sends to enrol a card, and to reissue a card's link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, model_validator

from app.validation import LINE, Body


class EnrolmentInput(Body):
    name: Annotated[str, Field(min_length=1, max_length=200), LINE]
    email: Annotated[str, Field(max_length=320), LINE] | None = None
    phone: Annotated[str, Field(max_length=40), LINE] | None = None
    marketing_consent: StrictBool = False
    locale: Literal["en", "ru", "uk"] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> EnrolmentInput:
        if not self.email and not self.phone:
            raise ValueError("give an email address or a phone number")
        return self


class CardLinkInput(Body):
    """The body of POST /api/v1/cards/{id}/link; it may be left out (a new link only)."""

    reset_pass_token: StrictBool = Field(False, description=(
        "Also replace the pass's authenticationToken, which Apple's web service checks: a "
        "copy of the pass that leaked (anyone who had the old link could download it) can "
        "no longer fetch updates or register devices; devices registered with the old "
        "token are forgotten and the customer adds the pass again from the new link."))
