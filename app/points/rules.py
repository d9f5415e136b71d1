"""The loyalty rules as pure functions of plain values: no database, no clock.

Rounding: points are whole and always rounded down, in exact decimal arithmetic:
``earned = floor(amount_paid × earn_percent / 100 / point_value)``. A purchase of
1 999 kopecks at 2 % with a point worth 100 kopecks earns 0 points, 5 000 earns 1.
Refunds reverse cumulatively, ``floor(earned × refunded / amount)`` in total after each
refund, so partial refunds that add up to the whole purchase reverse exactly what it
earned, never more, and never the same points twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from app.problem_codes import ProblemCode
from app.texts import tier_key

HUNDRED = Decimal(100)


class RuleViolation(Exception):
    """A purchase or refund the rules do not allow; ``code`` is the problem code the API
    answers it with (a 409)."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tier:
    """A tier by its key (``app.texts.tier_key``): what ``cards.tier`` holds; the names
    customers read are the program's (``app.texts.tier_name``)."""

    name: str
    min_spend: int
    earn_percent: Decimal


@dataclass(frozen=True)
class Trigger:
    """A bonus: ``nth_visit`` every ``every`` visits, or ``min_amount`` from ``amount`` up."""

    kind: str
    points: int
    every: int = 0
    amount: int = 0


@dataclass(frozen=True)
class Rules:
    kind: str = "points"
    earn_percent: Decimal = Decimal(0)
    point_value: int = 100
    welcome_points: int = 0
    tiers: tuple[Tier, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    max_redeem_percent: Decimal = HUNDRED
    stamps_required: int | None = None
    stamp_min_amount: int = 0
    points_expire_days: int | None = None

    @classmethod
    def from_values(cls, **values: Any) -> Rules:
        """Rules from a program's stored values (tiers and triggers as JSON dicts)."""
        tiers = tuple(
            Tier(name=tier_key(t), min_spend=int(t["min_spend"]),
                 earn_percent=Decimal(str(t["earn_percent"])))
            for t in values.pop("tiers", None) or ()
        )
        triggers = tuple(
            Trigger(kind=str(t["kind"]), points=int(t["points"]), every=int(t.get("every") or 0),
                    amount=int(t.get("amount") or 0))
            for t in values.pop("triggers", None) or ()
        )
        for name in ("earn_percent", "max_redeem_percent"):
            if name in values:
                values[name] = Decimal(str(values[name] if values[name] is not None else 100))
        if values.get("stamp_min_amount") is None:
            values["stamp_min_amount"] = 0
        return cls(tiers=tiers, triggers=triggers, **values)


@dataclass(frozen=True)
class CardState:
    balance: int
    stamps: int
    visits: int
    spend_12_months: int


@dataclass(frozen=True)
class OfferBonus:
    """What one offer's mechanic gave a purchase (``app.offers.mechanics``): a ``bonus``
    entry naming the offer."""

    offer_id: int
    points: int
    reason: str


@dataclass(frozen=True)
class PurchaseOutcome:
    redeemed_points: int
    redeemed_value: int
    amount_paid: int
    earn_percent: Decimal
    earned: int
    bonuses: tuple[tuple[str, int], ...]
    stamps_added: int
    stamps_converted: int
    rewards_added: int
    offer_bonuses: tuple[OfferBonus, ...] = ()

    @property
    def bonus_points(self) -> int:
        """Every bonus: the program's triggers' and the offers'."""
        return (sum(points for _, points in self.bonuses)
                + sum(bonus.points for bonus in self.offer_bonuses))


def floor_decimal(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def tier_for(tiers: Sequence[Tier], spend: int) -> Tier | None:
    """The highest tier whose threshold the spend reaches, or None below every tier."""
    reached = [tier for tier in tiers if tier.min_spend <= spend]
    return max(reached, key=lambda tier: tier.min_spend) if reached else None


def earn_rate(rules: Rules, spend: int) -> Decimal:
    tier = tier_for(rules.tiers, spend)
    return tier.earn_percent if tier is not None else rules.earn_percent


def points_for(amount_paid: int, earn_percent: Decimal, point_value: int) -> int:
    return floor_decimal(Decimal(amount_paid) * earn_percent / HUNDRED / point_value)


def max_redeemable(rules: Rules, *, balance: int, amount: int | None) -> int:
    """How many points may pay for a purchase of ``amount`` (the balance when unknown)."""
    if rules.kind != "points" or balance <= 0:
        return 0
    if amount is None:
        return balance
    cap_value = floor_decimal(Decimal(amount) * rules.max_redeem_percent / HUNDRED)
    return min(balance, cap_value // rules.point_value)


def evaluate_purchase(
    rules: Rules, state: CardState, *, amount: int, redeem_points: int
) -> PurchaseOutcome:
    """What a purchase earns and spends; raises RuleViolation when it may not happen."""
    if redeem_points and rules.kind != "points":
        raise RuleViolation(ProblemCode.REDEEM_NOT_ALLOWED,
                            "A stamps program has no points to redeem.")
    if redeem_points > state.balance:
        raise RuleViolation(ProblemCode.INSUFFICIENT_POINTS,
                            f"The card holds {state.balance} points, not {redeem_points}.")
    cap = max_redeemable(rules, balance=redeem_points, amount=amount)
    if redeem_points > cap:
        raise RuleViolation(
            ProblemCode.REDEEM_LIMIT,
            f"Points may pay for at most {rules.max_redeem_percent}% of a purchase: "
            f"{cap} points here.",
        )
    redeemed_value = redeem_points * rules.point_value
    amount_paid = amount - redeemed_value
    visits = state.visits + 1
    if rules.kind == "stamps":
        return _stamps_outcome(rules, state, amount, amount_paid, visits, redeem_points)
    percent = earn_rate(rules, state.spend_12_months)
    return PurchaseOutcome(
        redeemed_points=redeem_points, redeemed_value=redeemed_value, amount_paid=amount_paid,
        earn_percent=percent, earned=points_for(amount_paid, percent, rules.point_value),
        bonuses=_bonuses(rules, amount_paid, visits), stamps_added=0, stamps_converted=0,
        rewards_added=0,
    )


def _stamps_outcome(rules: Rules, state: CardState, amount: int, amount_paid: int,
                    visits: int, redeem_points: int) -> PurchaseOutcome:
    required = rules.stamps_required or 1
    added = 1 if amount_paid >= max(rules.stamp_min_amount, 1) else 0
    rewards = (state.stamps + added) // required
    return PurchaseOutcome(
        redeemed_points=redeem_points, redeemed_value=0, amount_paid=amount_paid,
        earn_percent=Decimal(0), earned=0, bonuses=_bonuses(rules, amount_paid, visits),
        stamps_added=added, stamps_converted=rewards * required, rewards_added=rewards,
    )


def _bonuses(rules: Rules, amount_paid: int, visits: int) -> tuple[tuple[str, int], ...]:
    bonuses: list[tuple[str, int]] = []
    for trigger in rules.triggers:
        if trigger.kind == "nth_visit" and trigger.every > 0 and visits % trigger.every == 0:
            bonuses.append((f"visit {visits}: every {trigger.every}th visit", trigger.points))
        elif trigger.kind == "min_amount" and amount_paid >= trigger.amount > 0:
            bonuses.append((f"purchase of at least {trigger.amount}", trigger.points))
    return tuple(bonuses)


@dataclass(frozen=True)
class RefundOutcome:
    reverse_earned: int
    reverse_bonus: int
    return_redeemed: int
    reverse_stamps: int
    refunded_paid: int


def evaluate_refund(
    *, amount: int, amount_paid: int, earned: int, bonus: int, redeemed: int, stamps: int,
    refunded_before: int, refund: int,
) -> RefundOutcome:
    """The incremental reversal of a refund after ``refunded_before`` was refunded already."""
    if refund <= 0:
        raise RuleViolation(ProblemCode.INVALID_REFUND, "A refund must be of a positive amount.")
    if refunded_before + refund > amount:
        raise RuleViolation(
            ProblemCode.REFUND_EXCEEDS_PURCHASE,
            f"Only {amount - refunded_before} of this purchase is left to refund.",
        )
    after = refunded_before + refund

    def share(total: int, refunded: int) -> int:
        return total * refunded // amount

    return RefundOutcome(
        reverse_earned=share(earned, after) - share(earned, refunded_before),
        reverse_bonus=share(bonus, after) - share(bonus, refunded_before),
        return_redeemed=share(redeemed, after) - share(redeemed, refunded_before),
        # A stamp was for the purchase as a whole: it goes when the whole purchase does.
        reverse_stamps=stamps if after == amount else 0,
        refunded_paid=share(amount_paid, after) - share(amount_paid, refunded_before),
    )


def reversed_share(total: int, *, amount: int, refunded_before: int, refund: int) -> int:
    """What a refund takes back of ``total`` points a purchase gave, cumulatively as
    ``evaluate_refund`` does (the refund checked there already)."""
    after = refunded_before + refund
    return total * after // amount - total * refunded_before // amount


def expiring_points(*, old_credits: int, debits: int) -> int:
    """Points to expire, oldest first: credits older than the cutoff not yet consumed.

    ``debits`` is every point ever taken from the card (redeemed, reversed, expired);
    they consume the oldest credits first, so what is left of the old credits expires.
    Running it again after an expiry finds nothing: the expiry is itself a debit.
    """
    return max(0, old_credits - debits)
