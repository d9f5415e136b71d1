"""What a merchant sends to set a program's automatic offers
(``PUT /api/v1/programs/{id}/automations``, the dashboard's automations page).

Every key is optional: a rule or setting left out keeps its value. A rule switched on
needs a title (its texts are localized like an offer's, ``app.texts``); its numbers are
bounded here and its defaults are ``RULE_DEFAULTS``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from app.texts import LocalizedText, LocalizedValue
from app.validation import WHOLE, Body

Days = Annotated[int, Field(ge=1, le=3650), WHOLE]
# What a rule's numbers are when the merchant has not said (also the API's answer).
RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "welcome": {"days": 3},
    "birthday": {"when": "day"},
    "we_miss_you": {"floor_days": 14, "max_days": 365},
    "tier_upgrade": {},
}
VALID_DAYS = 7  # how long a send stays on the pass unless the merchant says
MAX_WEEKLY_CAP = 21


class RuleInput(Body):
    """One rule: on or off, its texts, its control group, how long a send stays on the
    pass, and its own numbers (the ones its kind has; others are refused)."""

    enabled: bool | None = None
    title: Annotated[LocalizedValue, LocalizedText(80, min_length=1)] | None = None
    body: Annotated[LocalizedValue, LocalizedText(500, multiline=True)] | None = None
    holdout_percent: Annotated[int, Field(ge=0, le=90), WHOLE] | None = None
    valid_days: Annotated[int, Field(ge=1, le=90), WHOLE] | None = None


class WelcomeInput(RuleInput):
    days: Annotated[int, Field(ge=1, le=90), WHOLE] | None = None


class BirthdayInput(RuleInput):
    when: Literal["day", "week"] | None = None


class WeMissYouInput(RuleInput):
    floor_days: Days | None = None
    max_days: Days | None = None


class RulesInput(Body):
    welcome: WelcomeInput | None = None
    birthday: BirthdayInput | None = None
    we_miss_you: WeMissYouInput | None = None
    tier_upgrade: RuleInput | None = None


class AutomationsInput(Body):
    weekly_cap: Annotated[int, Field(ge=0, le=MAX_WEEKLY_CAP), WHOLE] | None = None
    pause_over_budget: bool | None = None
    rules: RulesInput = Field(default_factory=RulesInput)
