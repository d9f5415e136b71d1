"""The sentences a card's pass says about that one card, in its holder's language: what to
do for the next tier and the last few movements of its ledger.

Labels and the program's texts reach the phone through the pass's ``pass.strings`` (in
the phone's language); these sentences differ per card, so they are written here, once,
in the language the customer chose when joining (kept on the customer), or the
program's first. Numbers, amounts and dates follow that language's conventions
(Babel's CLDR data: its symbols and month names, read once per language, since this
runs for every pass built and Babel's formatters would cost more than the rest of the
pass); no sentence needs a plural form or declines a name.

Invariant: pure functions of the values handed in; no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from babel.dates import get_month_names
from babel.numbers import get_decimal_symbol, get_group_symbol

from app.cards.models import Card
from app.i18n import LazyText, best_locale, gettext, lazy_gettext, using_locale
from app.merchants.models import Program
from app.points.rules import Tier
from app.texts import tier_key, tier_name
from app.wallet.apple_shapes import ZERO_DECIMAL_CURRENCIES
from app.wallet.facts import CardFacts, Movement

_UNUSED_RATE = Decimal(0)  # a tier's rate: the next step needs only names and thresholds
MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash beside a date
# What each kind of ledger entry is called on the pass (``app.ledger.models.ENTRY_KINDS``).
MOVEMENT_KINDS: dict[str, LazyText] = {
    "welcome": lazy_gettext("Welcome bonus"),
    "earn": lazy_gettext("Purchase"),
    "redeem": lazy_gettext("Paid with points"),
    "bonus": lazy_gettext("Bonus"),
    "adjust": lazy_gettext("Correction"),
    "reverse": lazy_gettext("Refund"),
    "expire": lazy_gettext("Points expired"),
}


def holder_locale(card: Card) -> str:
    """The language the card's sentences are written in: the customer's, when the program
    speaks it, else the program's first."""
    return best_locale([card.customer.locale], card.program.locales)


@lru_cache(maxsize=8)
def _symbols(locale: str) -> tuple[str, str]:
    """The language's digit-group and decimal separators."""
    return get_group_symbol(locale=locale), get_decimal_symbol(locale=locale)


@lru_cache(maxsize=8)
def _months(locale: str) -> dict[int, str]:
    """The language's abbreviated month names, as a date's "d MMM" shows them."""
    return dict(get_month_names("abbreviated", "format", locale=locale))


def number_text(number: int, locale: str) -> str:
    """A whole number as the language writes it: "1,200", "1 200"."""
    return f"{number:,}".replace(",", _symbols(locale)[0])


def money_text(amount: int, currency: str, locale: str) -> str:
    """An amount in minor units as the language writes it: "1,200 UAH", "1 200,50 UAH"."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{number_text(amount, locale)} {currency}"
    whole, cents = divmod(amount, 100)
    fraction = f"{_symbols(locale)[1]}{cents:02d}" if cents else ""
    return f"{number_text(whole, locale)}{fraction} {currency}"


def date_text(moment: datetime, locale: str) -> str:
    """A day as "4 Dec", "4 груд."."""
    return f"{moment.day} {_months(locale)[moment.month]}"


def next_tier(tiers: Sequence[Tier], *, spend: int, current: str | None) -> Tier | None:
    """The lowest tier above both the spend and the card's tier now, if any: a card whose
    tier has not been recounted yet is never told to reach the tier it shows."""
    shown = next((tier.min_spend for tier in tiers if tier.name == current), -1)
    above = [tier for tier in tiers if tier.min_spend > max(spend, shown)]
    return min(above, key=lambda tier: tier.min_spend) if above else None


def program_tiers(program: Program) -> tuple[Tier, ...]:
    """The program's tiers by key (``app.texts.tier_key``, what a card's tier holds) and
    threshold (what the next step needs of them)."""
    return tuple(Tier(name=tier_key(tier), min_spend=int(tier["min_spend"]),
                      earn_percent=_UNUSED_RATE) for tier in program.tiers)


def next_step_text(tiers: Sequence[Tier], *, currency: str, current: str | None,
                   facts: CardFacts, locale: str, written: Sequence[Mapping[str, Any]],
                   locales: Sequence[str]) -> str:
    """"Spend 1,200 UAH more for Gold", or empty when there is no tier above the card; the
    tier named as the program names it in ``locale`` (its tiers as ``written``, in its
    ``locales``, never empty)."""
    if facts.spend_12_months is None or not tiers:
        return ""
    target = next_tier(tiers, spend=facts.spend_12_months, current=current)
    if target is None:
        return ""
    left = target.min_spend - facts.spend_12_months
    shown = tier_name(written, target.name, locale, tuple(locales))
    return _phrases(locale).next_tier % {"tier": shown,
                                         "amount": money_text(left, currency, locale)}


def movement_text(movement: Movement, *, locale: str) -> str:
    """One line of the pass's history: "12 Mar · Purchase · +12"."""
    when = date_text(movement.created_at, locale)
    phrases = _phrases(locale)
    if movement.rewards > 0:
        return f"{when} · {phrases.reward_earned}"
    if movement.rewards < 0 and not movement.points:
        return f"{when} · {phrases.reward_received}"
    what = phrases.kinds.get(movement.kind, movement.kind)
    change = movement.points or movement.stamps
    if not change:
        return f"{when} · {what}"
    sign = "+" if change > 0 else MINUS
    return f"{when} · {what} · {sign}{number_text(abs(change), locale)}"


def history_lines(facts: CardFacts, locale: str) -> tuple[str, ...]:
    return tuple(movement_text(movement, locale=locale) for movement in facts.movements)


@dataclass(frozen=True)
class _Phrases:
    next_tier: str
    kinds: Mapping[str, str]
    reward_earned: str
    reward_received: str


@lru_cache(maxsize=8)
def _phrases(locale: str) -> _Phrases:
    """The pass's sentences in ``locale``, translated once: catalogs are read once per
    process, and translating per pass (locale switch, lookups, lazy texts) cost more
    than the rest of its text."""
    with using_locale(locale):
        return _Phrases(
            # Without values gettext leaves the placeholders for the caller to fill.
            next_tier=gettext("Spend %(amount)s more for %(tier)s"),
            kinds=MappingProxyType({kind: str(text) for kind, text in MOVEMENT_KINDS.items()}),
            reward_earned=gettext("Reward earned"),
            reward_received=gettext("Reward received"),
        )
