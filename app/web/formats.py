"""Numbers, amounts and dates written the way the page's language writes them (CLDR
through Babel): 12,500 in English, 12 500 in Russian and Ukrainian; amounts arrive in
minor units and are shown in the currency's major units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
)

from app.clock import utcnow


@dataclass(frozen=True)
class PageFormats:
    locale: str
    currency: str
    today: date

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)

    def decimal(self, value: float, digits: int = 1) -> str:
        """12.3 in English, 12,3 in Russian and Ukrainian."""
        return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0",
                              locale=self.locale)

    def percent(self, fraction: float) -> str:
        """A share as a percent with one decimal: 2.4 %, 2,4 %."""
        return f"{self.decimal(fraction * 100)}\u00a0%"

    def money(self, minor_units: int) -> str:
        """1 370 ₴, $1,370.50, 1,370 UAH: whole amounts without a fraction, and the
        currency's code after the number where the language has no symbol for it."""
        value = Decimal(minor_units).scaleb(-get_currency_precision(self.currency))
        whole = value == value.to_integral_value()
        if get_currency_symbol(self.currency, locale=self.locale) == self.currency:
            number = format_decimal(value, format="#,##0" if whole else "#,##0.00",
                                    locale=self.locale)
            return f"{number}\u00a0{self.currency}"
        pattern = Locale.parse(self.locale).currency_formats["standard"].pattern
        return format_currency(value, self.currency, locale=self.locale,
                               format=pattern.replace(".00", "") if whole else pattern,
                               currency_digits=False)

    def date(self, moment: datetime) -> str:
        return format_date(moment, format="medium", locale=self.locale)

    def short_date(self, moment: datetime) -> str:
        """4 Dec within the year (a line of history), Dec 4, 2025 before it."""
        skeleton = "MMMd" if moment.year == self.today.year else "yMMMd"
        return format_skeleton(skeleton, moment, locale=self.locale)

    @staticmethod
    def card_number(number: str) -> str:
        """Groups of four digits, as a person reads a number aloud: 1234 5678 9012."""
        return " ".join(number[start:start + 4] for start in range(0, len(number), 4))


def page_formats(locale: str, currency: str) -> PageFormats:
    return PageFormats(locale=locale, currency=currency, today=utcnow().date())
