"""The offer's form: a title and a text in each of the program's languages (the first
required, as ``app.texts.program_text_faults`` asks), the days it is valid (UTC), and
its audience (tiers, customer segments, days without a visit). What it sends becomes the API's
``OfferCreate``, checked by the same service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.web.dashboard.forms import LANGUAGE_NAMES, REQUIRED, _Form, lazy_gettext

TITLE_LIMIT, BODY_LIMIT = 80, 500
MECHANICS = (  # what the offer does at the till (``app.offers.mechanics``)
    ("", lazy_gettext("Nothing: text on the pass only")),
    ("bonus_points", lazy_gettext("Bonus points on every purchase")),
    ("multiplier", lazy_gettext("Points multiplied on every purchase")),
    ("coupon", lazy_gettext("A coupon the cashier applies once")))
TOO_LONG = lazy_gettext("This is too long.")


class _Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class OfferForm(_Form):
    starts_on = DateField(lazy_gettext("Valid from (UTC)"), [Optional()])
    ends_on = DateField(lazy_gettext("Valid until, this day included (UTC)"), [Optional()])
    tiers = _Checkboxes(lazy_gettext("Only these tiers"))
    segments = _Checkboxes(lazy_gettext("Only these customer segments"))
    inactive_days = IntegerField(
        lazy_gettext("Only customers who have not visited for this many days"),
        [Optional(), NumberRange(min=1, max=3650, message=lazy_gettext(
            "A number of days from 1 to 3650."))])
    promotional = BooleanField(lazy_gettext(
        "Promotional: only customers who agreed to marketing get it"), default=True)
    mechanic = SelectField(lazy_gettext("What it does"), default="")  # MECHANICS
    mechanic_points = IntegerField(lazy_gettext("Points"), [Optional()])
    mechanic_factor = DecimalField(lazy_gettext("Multiply the earned points by"),
                                   [Optional()], places=None)
    mechanic_text = StringField(lazy_gettext("What the cashier hands over"),
                                [Optional(), Length(max=TITLE_LIMIT, message=TOO_LONG)])

    locales: tuple[str, ...] = ()

    def text_fields(self) -> list[tuple[Any, Any]]:
        """Each language's title and text fields, the program's first language first."""
        return [(self[f"title_{code}"], self[f"body_{code}"]) for code in self.locales]

    def offer_input(self) -> dict[str, Any]:
        """What the form says, as the API's body of ``POST .../offers``."""
        titles = {code: (self[f"title_{code}"].data or "").strip() for code in self.locales}
        bodies = {code: (self[f"body_{code}"].data or "").strip() for code in self.locales}
        audience: dict[str, Any] = {}
        if self.tiers.data:
            audience["tiers"] = list(self.tiers.data)
        if self.segments.data:
            audience["segments"] = list(self.segments.data)
        if self.inactive_days.data:
            audience["inactive_days"] = self.inactive_days.data
        return {"title": {code: text for code, text in titles.items() if text},
                "body": {code: text for code, text in bodies.items() if text},
                "starts_at": _moment(self.starts_on.data),
                "ends_at": _moment(self.ends_on.data, next_day=True),
                "audience": audience, "promotional": bool(self.promotional.data),
                "mechanic": self._mechanic()}

    def _mechanic(self) -> dict[str, Any] | None:
        """The mechanic chosen, with the fields it takes (the service checks them)."""
        kind = self.mechanic.data or ""
        if not kind:
            return None
        mechanic: dict[str, Any] = {"type": kind}
        if kind in ("bonus_points", "coupon") and self.mechanic_points.data is not None:
            mechanic["points"] = self.mechanic_points.data
        if kind == "bonus_points" and "points" not in mechanic:
            mechanic["points"] = 0  # refused, naming the field
        if kind == "multiplier":
            factor = self.mechanic_factor.data
            mechanic["factor"] = float(factor) if factor is not None else 0
        if kind == "coupon" and (self.mechanic_text.data or "").strip():
            mechanic["text"] = (self.mechanic_text.data or "").strip()
        return mechanic


def _moment(day: date | None, *, next_day: bool = False) -> str | None:
    if day is None:
        return None
    start = datetime.combine(day + timedelta(days=1 if next_day else 0), time())
    return start.isoformat() + "Z"


def offer_form(formdata: MultiDict[str, str] | None, *, locales: Sequence[str],
               tiers: Sequence[tuple[str, str]],
               segments: Sequence[tuple[str, str]] = ()) -> OfferForm:
    """The form for a program speaking ``locales`` with ``tiers`` and ``segments``
    (key, label)."""

    class ProgramOfferForm(OfferForm):
        pass

    for index, code in enumerate(locales):
        language = LANGUAGE_NAMES.get(code, code)
        required = [REQUIRED] if index == 0 else [Optional()]
        setattr(ProgramOfferForm, f"title_{code}", StringField(
            lazy_gettext("Title (%(language)s)", language=language),
            [*required, Length(max=TITLE_LIMIT, message=TOO_LONG)]))
        setattr(ProgramOfferForm, f"body_{code}", TextAreaField(
            lazy_gettext("Text (%(language)s)", language=language),
            [Optional(), Length(max=BODY_LIMIT, message=TOO_LONG)]))
    form = ProgramOfferForm(formdata)
    form.locales = tuple(locales)
    form.tiers.choices = list(tiers)
    form.segments.choices = list(segments)
    form.mechanic.choices = list(MECHANICS)
    return form
