"""The cashier screen's forms: finding a card, a sale and a refund, with amounts read as a
cashier types them ("123.50", "123,50", "1 234,5") and turned into the currency's minor
units exactly (decimal arithmetic, never floats).

Each sale and refund form carries an idempotency key made when the page rendered it
(``new_key``): sending the same form again (a double tap, a retry) sends the same key, and
the ledger records one purchase or refund.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from babel.numbers import get_currency_precision
from wtforms import Field, HiddenField, IntegerField, SearchField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from app.ledger.idempotency import KEY_PATTERN_MAX
from app.validation import MAX_INT
from app.web.dashboard.forms import REQUIRED, _Form, lazy_gettext

KEY_PREFIX = "dashboard-"
# Digits, optionally in groups of three parted by spaces, then one decimal mark and digits.
_AMOUNT = re.compile(r"(?P<whole>\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](?P<part>\d+))?")
DECIMAL_KEYPAD = {"inputmode": "decimal"}  # a phone shows digits and its decimal mark
NOT_AN_AMOUNT = lazy_gettext("Type the amount as on the receipt, for example 123.50.")


def new_key() -> str:
    """A fresh idempotency key for one attempt at a sale or a refund."""
    return KEY_PREFIX + secrets.token_urlsafe(18)


def minor_units(text: str, currency: str) -> int | None:
    """``text`` as an amount of ``currency`` in its minor units, or None when it is none
    (not a number, more decimals than the currency has, zero or past the ledger's range)."""
    found = _AMOUNT.fullmatch(text.strip())
    if found is None:
        return None
    part = found.group("part") or ""
    precision = get_currency_precision(currency)
    if len(part) > precision:
        return None
    whole = re.sub(r"\D", "", found.group("whole"))
    units = int(Decimal(f"{whole}.{part or '0'}").scaleb(precision))
    return units if 1 <= units <= MAX_INT else None


class AmountField(StringField):
    """An amount typed in the currency's units; ``data`` stays the text, ``units`` is the
    amount in minor units once validated with the currency (``AmountForm.currency``)."""

    units: int | None = None


def _amount_check(form: AmountForm, field: Field) -> None:
    if not field.data:
        return
    units = minor_units(field.data, form.currency)
    if units is None:
        raise ValidationError(NOT_AN_AMOUNT)
    field.units = units  # type: ignore[attr-defined]


class AmountForm(_Form):
    currency = "EUR"  # set to the program's before validating
    key = HiddenField(validators=[InputRequired(), Length(max=KEY_PATTERN_MAX)])
    location = SelectField(lazy_gettext("Location"), coerce=int, validate_choice=False,
                           default=0)

    def offer(self, currency: str, locations: list[tuple[int, str]]) -> None:
        self.currency = currency
        self.location.choices = locations


class FindForm(_Form):
    q = SearchField(lazy_gettext("Card number, phone or barcode"),
                    [REQUIRED, Length(max=200)])


class SaleForm(AmountForm):
    amount = AmountField(lazy_gettext("Amount"), [REQUIRED, _amount_check],
                         render_kw=DECIMAL_KEYPAD)
    redeem_points = IntegerField(lazy_gettext("Points to redeem"),
                                 [Optional(), NumberRange(min=0, max=MAX_INT)], default=0)
    redeem_rewards = IntegerField(lazy_gettext("Rewards to redeem"),
                                  [Optional(), NumberRange(min=0, max=100)], default=0)
    # The card's coupons (0: none used); one the card no longer has is refused by the
    # purchase (``coupon_unavailable``), so any number is taken here.
    coupon = SelectField(lazy_gettext("Coupon"), coerce=int, validate_choice=False,
                         default=0)


class RefundForm(AmountForm):
    amount = AmountField(lazy_gettext("Amount to refund (empty: all of it)"),
                         [Optional(), _amount_check], render_kw=DECIMAL_KEYPAD)
