"""The pass's own sentences write numbers, amounts and dates exactly as Babel's formatters
would in each language (they read Babel's symbols once, for speed), and name the next
tier only when there is one above both the spend and the tier the card shows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from app.points.rules import Tier
from app.wallet.card_texts import date_text, money_text, next_tier, number_text

LOCALES = ("en", "ru", "uk")
TIERS = (Tier("Silver", 0, Decimal(2)), Tier("Gold", 500_000, Decimal(3)),
         Tier("Platinum", 2_000_000, Decimal(5)))


@given(number=st.integers(min_value=0, max_value=10**12), locale=st.sampled_from(LOCALES))
def test_numbers_are_grouped_as_babel_groups_them(number: int, locale: str) -> None:
    assert number_text(number, locale) == format_decimal(number, locale=locale)


@given(amount=st.integers(min_value=0, max_value=10**12), locale=st.sampled_from(LOCALES))
def test_amounts_are_written_as_babel_writes_them(amount: int, locale: str) -> None:
    value = Decimal(amount) / 100
    pattern = "#,##0" if amount % 100 == 0 else "#,##0.00"
    expected = f"{format_decimal(value, format=pattern, locale=locale)} UAH"
    assert money_text(amount, "UAH", locale) == expected


def test_an_amount_in_a_currency_without_cents_is_whole() -> None:
    assert money_text(120_000, "JPY", "en") == "120,000 JPY"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("month", range(1, 13))
def test_dates_read_as_babels_day_and_short_month(locale: str, month: int) -> None:
    moment = datetime(2026, month, 4, 15, 30)
    assert date_text(moment, locale) == format_date(moment.date(), "d MMM", locale=locale)


@pytest.mark.parametrize(
    ("spend", "current", "expected"),
    [
        (100_000, "Silver", "Gold"),
        (600_000, "Gold", "Platinum"),
        (2_500_000, "Platinum", None),
        # Spend lapsed below Gold, the tier not yet recounted: never "reach Gold" on a
        # card that shows Gold.
        (100_000, "Gold", "Platinum"),
        (100_000, None, "Gold"),
        (500_000, "Silver", "Platinum"),  # reached Gold today, recounted tonight
    ],
)
def test_the_next_tier_is_above_the_spend_and_the_tier_shown(
        spend: int, current: str | None, expected: str | None) -> None:
    found = next_tier(TIERS, spend=spend, current=current)
    assert (found.name if found is not None else None) == expected
