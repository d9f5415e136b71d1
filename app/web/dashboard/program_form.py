"""The program editor's form: the page's fields (flat HTML names such as ``name-uk``,
``tiers-0-min_spend``, ``colors-background``) to the body the API's PATCH takes, and the
schema's refusals back to the fields, each said in the page's language.

Invariants: the body is validated by the API's own schema (``ProgramUpdate``) and applied
by the API's own use case, so the two doors refuse the same values; what a merchant typed
is kept as typed, so a refused form comes back with their values; amounts are typed in
the currency's major units ("1.50") and sent in minor units, as the API takes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

from app.i18n import LOCALES
from app.merchants.fraud_thresholds import SWITCHES, FraudThresholds, thresholds_of
from app.merchants.models import Program
from app.texts import is_per_locale
from app.wallet.apple_shapes import ZERO_DECIMAL_CURRENCIES, major_units, percent_text
from app.web.dashboard.forms import lazy_gettext

TEXTS = ("name", "reward_text", "terms")
COLORS = ("background", "foreground", "label")
LIMITS = ("purchases_per_card_per_hour", "purchases_per_card_per_day",
          "points_per_cashier_per_day")
FRAUD = tuple(FraudThresholds.model_fields)
# Empty, these switch their pattern off; the others, left empty, take their default.
FRAUD_NULLABLE = frozenset(SWITCHES)
WHOLE_FIELDS = ("welcome_points", "stamps_required", "points_expire_days")
NULLABLE = frozenset({"stamps_required", "points_expire_days"})
SPARE_TIERS = 1  # empty rows offered after the program's tiers, to add one
MAX_TIER_ROWS = 11  # the schema's ten tiers and a row more, to be refused beside it
_DIGITS = re.compile(r"^\d{1,18}$")
_AMOUNT = re.compile(r"^\d{1,15}([.,]\d{1,2})?$")

# What is said beside a field the schema or the use case refused, by the refused path.
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), text) for (
    pattern, text) in (
    (r"^tiers$", lazy_gettext("Each tier needs a higher minimum spend than the one before.")),
    (r"^tiers\.\d+\.(key|name)", lazy_gettext("Another tier has this name.")),
    (r"^triggers\.\d+$", lazy_gettext("Fill in the points and the visit or the amount.")),
    (r"^triggers\.\d+\.every$", lazy_gettext("Enter a number of visits from 2 to 1000.")),
    (r"^triggers\.\d+\.amount$", lazy_gettext("Enter an amount, e.g. 150 or 1.50.")),
    (r"percent$", lazy_gettext("Enter a percentage from 0 to 100, e.g. 5 or 2.5.")),
    (r"^colors\.", lazy_gettext("Enter a colour as # and six hexadecimal digits, e.g. "
                                "#1F2A44.")),
    (r"^stamps_required$", lazy_gettext("A stamp card needs from 1 to 100 stamps for a "
                                        "reward.")),
    (r"^locales", lazy_gettext("Choose at least one language.")),
    (r"^currency$", lazy_gettext("Enter the currency's three-letter code, e.g. UAH.")),
    (r"(min_spend|point_value)$", lazy_gettext("Enter an amount, e.g. 150 or 1.50.")),
    (r"^(name|reward_text|terms)\.", lazy_gettext("This text cannot be used: it is empty, "
                                                   "too long, or holds control characters.")),
    (r".", lazy_gettext("Enter a whole number in the allowed range.")),
))
FIRST_LANGUAGE = lazy_gettext("The program's first language needs this text.")


@dataclass
class ProgramForm:
    """What the page shows: the values as typed, the errors by field, the tier rows."""

    values: dict[str, str]
    locales: list[str]
    tier_rows: int
    trigger_rows: int = SPARE_TIERS
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def refuse(self, path: str, message: str) -> None:
        """Say ``message`` beside the field a refused ``path`` names (``tiers.0.name.uk``:
        ``tiers-0-name-uk``), or the nearest field the form has."""
        name = path.replace(".", "-")
        if name not in self.values:
            name = next((known for known in self.values if known.startswith(name + "-")),
                        name)
        self.errors.setdefault(name, message)


def _text_values(name: str, given: Any) -> dict[str, str]:
    if is_per_locale(given):
        return {f"{name}-{locale}": given.get(locale, "") for locale in LOCALES}
    return {f"{name}-{locale}": str(given or "") for locale in LOCALES}


def form_of_program(program: Program) -> ProgramForm:
    currency = program.currency
    values = {"kind": program.kind, "currency": currency,
              "earn_percent": percent_text(program.earn_percent),
              "point_value": major_units(program.point_value, currency),
              "max_redeem_percent": percent_text(program.max_redeem_percent),
              "reward_budget_percent": percent_text(program.reward_budget_percent),
              "barcode_format": program.barcode_format}
    for name in WHOLE_FIELDS:
        number = getattr(program, name)
        values[name] = "" if number is None else str(number)
    for name, given in (("name", program.name_given), ("reward_text",
                        program.reward_text_given), ("terms", program.terms_given)):
        values.update(_text_values(name, given))
    values.update({f"colors-{name}": program.colors.get(name, "") for name in COLORS})
    values.update({f"limits-{name}": str(program.limits.get(name) or "") for name in LIMITS})
    for index, tier in enumerate(program.tiers):
        values.update(_text_values(f"tiers-{index}-name", tier["name"]))
        values[f"tiers-{index}-key"] = str(tier.get("key") or "")
        values[f"tiers-{index}-min_spend"] = major_units(int(tier["min_spend"]), currency)
        values[f"tiers-{index}-earn_percent"] = percent_text(tier["earn_percent"])
    for index, trigger in enumerate(program.triggers):
        values[f"triggers-{index}-kind"] = str(trigger["kind"])
        values[f"triggers-{index}-points"] = str(trigger["points"])
        values[f"triggers-{index}-every"] = str(trigger.get("every") or "")
        amount = trigger.get("amount")
        values[f"triggers-{index}-amount"] = major_units(int(amount), currency) if (
            amount) else ""
    values.update(fraud_values(thresholds_of(program.fraud)))
    return ProgramForm(values=values, locales=list(program.locales or ["en"]),
                       tier_rows=len(program.tiers) + SPARE_TIERS,
                       trigger_rows=len(program.triggers) + SPARE_TIERS)


def fraud_values(thresholds: FraudThresholds) -> dict[str, str]:
    """The fraud thresholds as the form's fields show them (an empty field: off)."""
    return {f"fraud-{name}": "" if value is None else str(value)
            for name, value in thresholds.model_dump().items()}


def _fraud(form: ProgramForm) -> dict[str, Any] | None:
    """The fraud thresholds as typed; None when the form had none of their fields."""
    if not any(name.startswith("fraud-") for name in form.values):
        return None
    return {name: _number(form.value(f"fraud-{name}")) for name in FRAUD
            if form.value(f"fraud-{name}") or name in FRAUD_NULLABLE}


def form_of_request(form: MultiDict[str, str], program: Program | None) -> ProgramForm:
    """The values as sent; the languages in the program's order, new ones after."""
    chosen = [locale for locale in form.getlist("locales") if locale in LOCALES]
    order = list(program.locales) if program is not None else [form.get("first", "en")]
    locales = [locale for locale in order if locale in chosen]
    locales += [locale for locale in LOCALES if locale in chosen and locale not in locales]
    values = {name: form.get(name, "").strip() for name in form if name not in (
        "csrf", "locales", "action", "tier_rows", "trigger_rows", "design")}
    return ProgramForm(values=values, locales=locales,
                       tier_rows=_rows(form, values, "tiers", "tier_rows"),
                       trigger_rows=_rows(form, values, "triggers", "trigger_rows"))


def _rows(form: MultiDict[str, str], values: dict[str, str], prefix: str, count: str) -> int:
    """How many rows of tiers (or triggers) to read and show: the rows the page had, and
    an empty one after the last filled."""
    shown = min(_whole(form.get(count, "")) or SPARE_TIERS, MAX_TIER_ROWS)
    filled = [index for index in range(shown) if any(
        value for name, value in values.items() if name.startswith(f"{prefix}-{index}-"))]
    rows = max(shown, (filled[-1] + 1 if filled else 0) + SPARE_TIERS)
    return min(rows, MAX_TIER_ROWS)


def _whole(text: str) -> int | None:
    return int(text) if _DIGITS.fullmatch(text) else None


def _number(text: str) -> Any:
    """A whole number as typed, None for nothing; anything else as typed, for the schema
    to refuse at its field."""
    if not text:
        return None
    return _whole(text) if _DIGITS.fullmatch(text) else text


def _percent(text: str) -> Any:
    try:
        return Decimal(text.replace(",", ".")) if text else None
    except InvalidOperation:
        return text


def minor_units(text: str, currency: str) -> int | str | None:
    """An amount typed in major units ("1.50", "1,5") in minor units (150)."""
    if not text:
        return None
    if not _AMOUNT.fullmatch(text):
        return text
    amount = Decimal(text.replace(",", "."))
    if currency in ZERO_DECIMAL_CURRENCIES:
        return int(amount) if amount == amount.to_integral_value() else text
    return int(amount * 100)


def _texts(form: ProgramForm, name: str) -> Any:
    given = {locale: form.value(f"{name}-{locale}") for locale in form.locales}
    written = {locale: text for locale, text in given.items() if text}
    if not written:
        return "" if name != "name" else {}
    if len(written) == len(given) and len(set(written.values())) == 1:
        return next(iter(written.values()))  # one text for every language, as it was given
    return written


def _tiers(form: ProgramForm, currency: str) -> list[dict[str, Any]]:
    tiers = []
    for index in range(form.tier_rows):
        prefix = f"tiers-{index}"
        name = _texts(form, f"{prefix}-name")
        spend, percent = form.value(f"{prefix}-min_spend"), form.value(f"{prefix}-earn_percent")
        if not (name or spend or percent):
            continue  # an empty row: no tier (emptying a row removes its tier)
        tier: dict[str, Any] = {"name": name, "min_spend": minor_units(spend, currency),
                                "earn_percent": _percent(percent)}
        if form.value(f"{prefix}-key"):
            tier["key"] = form.value(f"{prefix}-key")
        tiers.append(tier)
    return tiers


def _triggers(form: ProgramForm, currency: str) -> list[dict[str, Any]]:
    triggers = []
    for index in range(form.trigger_rows):
        prefix = f"triggers-{index}"
        kind = form.value(f"{prefix}-kind")
        if not kind:
            continue  # "no bonus" chosen: no trigger in this row
        trigger: dict[str, Any] = {"kind": kind,
                                   "points": _number(form.value(f"{prefix}-points"))}
        if kind == "nth_visit":
            trigger["every"] = _number(form.value(f"{prefix}-every"))
        else:
            trigger["amount"] = minor_units(form.value(f"{prefix}-amount"), currency)
        triggers.append({name: value for name, value in trigger.items() if value is not None})
    return triggers


def _colors(form: ProgramForm, program: Program | None) -> dict[str, str]:
    """The colours typed; one the browser wrote in other letters (a colour input's
    lower case) is the program's own, unchanged."""
    stored = program.colors if program is not None else {}
    colors = {name: form.value(f"colors-{name}") for name in COLORS}
    return {name: stored[name] if stored.get(name, "").lower() == value.lower() else value
            for name, value in colors.items()}


def body_of(form: ProgramForm, program: Program | None = None) -> dict[str, Any]:
    """The form as the API's JSON body (``ProgramUpdate`` for ``program``, or
    ``ProgramCreate``)."""
    currency = form.value("currency").upper()
    body: dict[str, Any] = {
        "name": _texts(form, "name"), "reward_text": _texts(form, "reward_text"),
        "terms": _texts(form, "terms"), "locales": form.locales,
        "kind": form.value("kind"), "currency": currency,
        "earn_percent": _percent(form.value("earn_percent")),
        "point_value": minor_units(form.value("point_value"), currency),
        "max_redeem_percent": _percent(form.value("max_redeem_percent")),
        "reward_budget_percent": _percent(form.value("reward_budget_percent")),
        "barcode_format": form.value("barcode_format"),
        "colors": _colors(form, program),
        "limits": {name: _number(form.value(f"limits-{name}")) for name in LIMITS},
        "tiers": _tiers(form, currency), "triggers": _triggers(form, currency),
        "fraud": _fraud(form),
    }
    body.update({name: _number(form.value(name)) for name in WHOLE_FIELDS})
    # Empty, these are off (null); the others are left out (a null would be refused).
    return {name: value for name, value in body.items()
            if value is not None or name in NULLABLE}


def refuse_all(form: ProgramForm, errors: list[dict[str, str]]) -> None:
    """Each refusal (the schema's or the use case's) beside its field, in the page's
    language."""
    for error in errors:
        path, message = error.get("field", ""), error.get("message", "")
        if message.startswith("required: the program's first language"):
            form.refuse(path, FIRST_LANGUAGE)
            continue
        if path == "(body)" and "tiers" in message:
            path = "tiers"
        said = next(text for pattern, text in MESSAGES if pattern.search(path))
        form.refuse("tiers-0-min_spend" if path == "tiers" else path, said)
