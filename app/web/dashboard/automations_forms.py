"""The automatic offers page's form: its fields named ``<rule>-<setting>`` (texts
``<rule>-title-<language>``), turned into the API's ``PUT .../automations`` body and
back. The body is checked by the same schema and service as the API's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.automations.service import Automations
from app.texts import own_texts
from app.web.dashboard.forms import lazy_gettext

# Each rule's own numbers as the form asks them (``when`` is a choice).
RULE_NUMBERS = {"welcome": ("days",), "birthday": (), "we_miss_you": ("floor_days", "max_days"),
                "tier_upgrade": ()}
COMMON_NUMBERS = ("holdout_percent", "valid_days")
RULE_NAMES = {
    "welcome": lazy_gettext("Welcome"),
    "birthday": lazy_gettext("Birthday"),
    "we_miss_you": lazy_gettext("We miss you"),
    "tier_upgrade": lazy_gettext("Tier upgrade"),
}
RULE_HINTS = {
    "welcome": lazy_gettext("Sent this many days after joining to customers who have not come "
                            "back for a second visit."),
    "birthday": lazy_gettext("Sent on the customer's birthday, or in the week of it, once a "
                             "year, to customers who gave their birthday."),
    "we_miss_you": lazy_gettext("Sent once per absence when a customer stays away longer than "
                                "they usually do between visits, and at least the minimum."),
    "tier_upgrade": lazy_gettext("Sent once when a customer reaches a higher tier."),
}
NUMBER_LABELS = {
    "days": lazy_gettext("Days after joining"),
    "floor_days": lazy_gettext("At least this many days away"),
    "max_days": lazy_gettext("Not after this many days away"),
    "holdout_percent": lazy_gettext("Control group, per cent"),
    "valid_days": lazy_gettext("Days it stays on the pass"),
}


def form_values(automations: Automations, locales: Sequence[str]) -> dict[str, str]:
    """The form's fields filled from the saved settings."""
    values = {"weekly_cap": str(automations.weekly_cap),
              "pause_over_budget": "y" if automations.pause_over_budget else ""}
    for rule in automations.rules:
        values[f"{rule.kind}-enabled"] = "y" if rule.enabled else ""
        for code, text in own_texts(rule.title, locales).items():
            values[f"{rule.kind}-title-{code}"] = text
        for code, text in own_texts(rule.body, locales).items():
            values[f"{rule.kind}-body-{code}"] = text
        values[f"{rule.kind}-holdout_percent"] = str(rule.holdout_percent)
        values[f"{rule.kind}-valid_days"] = str(rule.valid_days)
        for name, value in rule.settings.items():
            values[f"{rule.kind}-{name}"] = str(value)
    return values


def _number(text: str | None) -> Any:
    """A whole number as typed; anything else as it is, for the schema to refuse."""
    text = (text or "").strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 10 else text


def automations_input(form: Mapping[str, str], locales: Sequence[str]) -> dict[str, Any]:
    """What the form says, as the API's body of ``PUT .../automations``."""
    rules: dict[str, Any] = {}
    for kind, numbers in RULE_NUMBERS.items():
        titles = {code: text for code in locales
                  if (text := (form.get(f"{kind}-title-{code}") or "").strip())}
        bodies = {code: text for code in locales
                  if (text := (form.get(f"{kind}-body-{code}") or "").strip())}
        rule: dict[str, Any] = {"enabled": bool(form.get(f"{kind}-enabled"))}
        if titles:
            rule["title"] = titles
            rule["body"] = bodies or ""
        for name in (*COMMON_NUMBERS, *numbers):
            value = _number(form.get(f"{kind}-{name}"))
            if value is not None:
                rule[name] = value
        if kind == "birthday" and form.get("birthday-when"):
            rule["when"] = form.get("birthday-when")
        rules[kind] = rule
    body: dict[str, Any] = {"pause_over_budget": bool(form.get("pause_over_budget")),
                            "rules": rules}
    cap = _number(form.get("weekly_cap"))
    if cap is not None:
        body["weekly_cap"] = cap
    return body
