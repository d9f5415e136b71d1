"""The loyalty rules (``app.points.rules``) as pure functions, checked with hypothesis
against arithmetic done independently here in exact fractions."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.points.rules import (
    CardState,
    Rules,
    RuleViolation,
    Tier,
    Trigger,
    evaluate_purchase,
    evaluate_refund,
    expiring_points,
    points_for,
    tier_for,
)
from app.validation import MAX_INT

# A percentage as the API stores it: 0 to 100 with at most three decimals.
percents = st.integers(0, 100_000).map(lambda thousandths: Decimal(thousandths) / 1000)
amounts = st.integers(0, MAX_INT)
# Mostly realistic point values (a kopeck to a hundred units), sometimes anything allowed.
point_values = st.one_of(st.integers(1, 10_000), st.integers(1, MAX_INT))
small_amounts = st.integers(1, 10_000_000)


def exact_points(amount_paid: int, percent: Decimal, point_value: int) -> int:
    return math.floor(Fraction(amount_paid) * Fraction(percent) / 100 / point_value)


def state(balance: int = 0, stamps: int = 0, visits: int = 0, spend: int = 0) -> CardState:
    return CardState(balance=balance, stamps=stamps, visits=visits, spend_12_months=spend)


def violation_code(rules: Rules, card: CardState, amount: int, redeem: int) -> str | None:
    try:
        evaluate_purchase(rules, card, amount=amount, redeem_points=redeem)
    except RuleViolation as violation:
        return violation.code
    return None


# --- earning -----------------------------------------------------------------------------


@given(amount=amounts, percent=percents, point_value=point_values)
def test_points_earned_are_the_exact_share_of_the_amount_rounded_down(
    amount: int, percent: Decimal, point_value: int
) -> None:
    assert points_for(amount, percent, point_value) == exact_points(amount, percent, point_value)


@given(amount=amounts, percent=percents, point_value=point_values)
def test_a_purchase_never_earns_negative_points(
    amount: int, percent: Decimal, point_value: int
) -> None:
    assert points_for(amount, percent, point_value) >= 0


@given(first=amounts, second=amounts, percent=percents, point_value=point_values)
def test_paying_more_never_earns_fewer_points(
    first: int, second: int, percent: Decimal, point_value: int
) -> None:
    low, high = sorted((first, second))
    assert points_for(low, percent, point_value) <= points_for(high, percent, point_value)


@given(thousandths=st.integers(1, 100_000), point_value=st.integers(1, 10_000),
       multiple=st.integers(1, 1_000))
def test_an_amount_whose_share_is_whole_earns_exactly_that_and_one_less_earns_one_fewer(
    thousandths: int, point_value: int, multiple: int
) -> None:
    # amount × (thousandths / 1000) / 100 / point_value is a whole number here: no binary
    # float lands on it reliably, exact decimal arithmetic does.
    common = math.gcd(thousandths, 100_000 * point_value)
    amount = multiple * (100_000 * point_value // common)
    whole = multiple * (thousandths // common)
    percent = Decimal(thousandths) / 1000
    assert points_for(amount, percent, point_value) == whole
    assert points_for(amount - 1, percent, point_value) == whole - 1


def test_earning_rounds_down_at_the_documented_example() -> None:
    assert points_for(1_999, Decimal(2), 100) == 0
    assert points_for(5_000, Decimal(2), 100) == 1


# --- tiers -------------------------------------------------------------------------------


@st.composite
def tier_ladders(draw: st.DrawFn) -> tuple[Tier, ...]:
    spends = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=6, unique=True))
    ladder = [Tier(name=f"T{spend}", min_spend=spend, earn_percent=draw(percents))
              for spend in sorted(spends)]
    # The schema keeps tiers in rising order; the choice must not depend on it.
    return tuple(draw(st.permutations(ladder)))


@given(tiers=tier_ladders(), data=st.data())
def test_a_card_gets_the_highest_tier_whose_threshold_its_spend_reaches(
    tiers: tuple[Tier, ...], data: st.DataObject
) -> None:
    thresholds = [tier.min_spend for tier in tiers]
    spend = data.draw(st.one_of(
        st.integers(0, 2 * 10**9),
        st.sampled_from(thresholds),
        st.sampled_from(thresholds).map(lambda value: max(0, value - 1)),
    ))
    chosen = tier_for(tiers, spend)
    reached = [threshold for threshold in thresholds if threshold <= spend]
    if not reached:
        assert chosen is None
    else:
        assert chosen is not None and chosen.min_spend == max(reached)


def test_spend_below_every_threshold_has_no_tier() -> None:
    tiers = (Tier("Silver", 1_000, Decimal(2)), Tier("Gold", 5_000, Decimal(3)))
    assert tier_for(tiers, 999) is None
    assert tier_for(tiers, 1_000) == tiers[0]
    assert tier_for(tiers, 5_000) == tiers[1]


# --- purchases ---------------------------------------------------------------------------


@st.composite
def points_programs(draw: st.DrawFn) -> Rules:
    return Rules(kind="points", earn_percent=draw(percents),
                 point_value=draw(st.integers(1, 10_000)),
                 max_redeem_percent=draw(percents))


@given(rules=points_programs(), balance=st.integers(0, 10**6), amount=small_amounts,
       data=st.data())
def test_a_redeem_is_refused_exactly_when_it_passes_the_balance_or_the_programs_share(
    rules: Rules, balance: int, amount: int, data: st.DataObject
) -> None:
    share = Fraction(amount) * Fraction(rules.max_redeem_percent) / 100
    cap = math.floor(share / rules.point_value)
    redeem = data.draw(st.one_of(
        st.integers(0, max(cap, balance) + 2),
        st.sampled_from([cap, cap + 1, balance, balance + 1]),
    ), label="redeem")
    if redeem > balance:
        expected = "insufficient_points"
    elif redeem * rules.point_value > share:
        expected = "redeem_limit"
    else:
        expected = None
    assert violation_code(rules, state(balance=balance), amount, redeem) == expected


@given(rules=points_programs(), amount=small_amounts, data=st.data())
def test_points_pay_their_value_and_points_are_earned_on_the_rest(
    rules: Rules, amount: int, data: st.DataObject
) -> None:
    share = Fraction(amount) * Fraction(rules.max_redeem_percent) / 100
    redeem = data.draw(st.integers(0, math.floor(share / rules.point_value)), label="redeem")
    outcome = evaluate_purchase(rules, state(balance=redeem), amount=amount,
                                redeem_points=redeem)
    assert outcome.redeemed_points == redeem
    assert outcome.redeemed_value == redeem * rules.point_value
    assert outcome.amount_paid == amount - redeem * rules.point_value
    assert 0 <= outcome.amount_paid <= amount
    assert outcome.earned == exact_points(outcome.amount_paid, rules.earn_percent,
                                          rules.point_value)


@given(rules=points_programs(), tiers=tier_ladders(), spend=st.integers(0, 2 * 10**9),
       amount=small_amounts)
def test_a_purchase_earns_at_the_rate_of_the_tier_the_card_holds(
    rules: Rules, tiers: tuple[Tier, ...], spend: int, amount: int
) -> None:
    program = Rules(kind="points", earn_percent=rules.earn_percent,
                    point_value=rules.point_value, tiers=tiers)
    outcome = evaluate_purchase(program, state(spend=spend), amount=amount, redeem_points=0)
    reached = [tier for tier in tiers if tier.min_spend <= spend]
    percent = (max(reached, key=lambda tier: tier.min_spend).earn_percent if reached
               else rules.earn_percent)
    assert outcome.earn_percent == percent
    assert outcome.earned == exact_points(amount, percent, rules.point_value)


@given(every=st.integers(2, 20), points=st.integers(1, 1_000), visits=st.integers(0, 500))
def test_an_nth_visit_bonus_comes_exactly_on_every_nth_visit(
    every: int, points: int, visits: int
) -> None:
    rules = Rules(kind="points", triggers=(Trigger(kind="nth_visit", points=points,
                                                   every=every),))
    outcome = evaluate_purchase(rules, state(visits=visits), amount=100, redeem_points=0)
    this_visit = visits + 1
    assert outcome.bonus_points == (points if this_visit % every == 0 else 0)


@given(threshold=st.integers(1, 100_000), points=st.integers(1, 1_000),
       amount=st.integers(1, 200_000), point_value=st.integers(1, 100), data=st.data())
def test_a_min_amount_bonus_counts_what_was_paid_after_points(
    threshold: int, points: int, amount: int, point_value: int, data: st.DataObject
) -> None:
    rules = Rules(kind="points", point_value=point_value,
                  triggers=(Trigger(kind="min_amount", points=points, amount=threshold),))
    redeem = data.draw(st.integers(0, amount // point_value), label="redeem")
    outcome = evaluate_purchase(rules, state(balance=redeem), amount=amount,
                                redeem_points=redeem)
    paid = amount - redeem * point_value
    assert outcome.bonus_points == (points if paid >= threshold else 0)


def test_both_bonuses_add_up_when_one_purchase_meets_both() -> None:
    rules = Rules(kind="points", triggers=(
        Trigger(kind="nth_visit", points=10, every=3),
        Trigger(kind="min_amount", points=7, amount=5_000),
    ))
    outcome = evaluate_purchase(rules, state(visits=2), amount=5_000, redeem_points=0)
    assert outcome.bonus_points == 17 and len(outcome.bonuses) == 2


def stamps_program(required: int, minimum: int) -> Rules:
    return Rules(kind="stamps", stamps_required=required, stamp_min_amount=minimum)


@given(required=st.integers(1, 100), minimum=st.integers(0, 10_000),
       stamps=st.integers(0, 99), data=st.data())
def test_a_stamp_comes_from_the_minimum_amount_up_and_full_cards_become_rewards(
    required: int, minimum: int, stamps: int, data: st.DataObject
) -> None:
    amount = data.draw(st.one_of(small_amounts, st.sampled_from([minimum - 1, minimum])
                                 .filter(lambda value: value >= 1)), label="amount")
    outcome = evaluate_purchase(stamps_program(required, minimum), state(stamps=stamps),
                                amount=amount, redeem_points=0)
    added = 1 if amount >= minimum else 0
    assert outcome.stamps_added == added
    assert outcome.rewards_added == (stamps + added) // required
    assert stamps + added - outcome.stamps_converted == (stamps + added) % required
    assert outcome.earned == 0


@given(required=st.integers(1, 12), minimum=st.integers(0, 1_000),
       purchases=st.lists(st.integers(1, 2_000), max_size=60))
def test_after_any_purchases_a_stamp_card_holds_its_rewards_and_the_remainder(
    required: int, minimum: int, purchases: list[int]
) -> None:
    rules = stamps_program(required, minimum)
    stamps = rewards = 0
    for visit, amount in enumerate(purchases):
        outcome = evaluate_purchase(rules, state(stamps=stamps, visits=visit), amount=amount,
                                    redeem_points=0)
        stamps += outcome.stamps_added - outcome.stamps_converted
        rewards += outcome.rewards_added
    qualifying = sum(1 for amount in purchases if amount >= minimum)
    assert (rewards, stamps) == divmod(qualifying, required)


def test_a_stamps_program_refuses_to_redeem_points() -> None:
    assert violation_code(stamps_program(5, 0), state(balance=100), 1_000, 1) == (
        "redeem_not_allowed")


# --- refunds -----------------------------------------------------------------------------


@st.composite
def purchases(draw: st.DrawFn) -> dict[str, int]:
    amount = draw(st.integers(1, 10**9))
    return {
        "amount": amount,
        "amount_paid": draw(st.integers(0, amount)),
        "earned": draw(st.integers(0, 10**7)),
        "bonus": draw(st.integers(0, 10**4)),
        "redeemed": draw(st.integers(0, 10**7)),
        "stamps": draw(st.integers(0, 1)),
    }


@st.composite
def refund_sequences(draw: st.DrawFn, amount: int) -> list[int]:
    """Refunds in order, adding up to at most ``amount``; often to all of it."""
    refunds: list[int] = []
    left = amount
    while left and len(refunds) < 12:
        if draw(st.booleans()) and draw(st.booleans()):
            refunds.append(left)
            break
        piece = draw(st.one_of(st.integers(1, left), st.integers(1, min(left, 10))))
        refunds.append(piece)
        left -= piece
        if not draw(st.integers(0, 9)):
            break
    return refunds


@given(purchase=purchases(), data=st.data())
def test_refunds_never_reverse_more_than_the_purchase_earned_and_all_of_it_at_the_end(
    purchase: dict[str, int], data: st.DataObject
) -> None:
    amount = purchase["amount"]
    refunds = data.draw(refund_sequences(amount), label="refunds")
    totals = {"earned": 0, "bonus": 0, "redeemed": 0, "stamps": 0, "amount_paid": 0}
    refunded = 0
    for refund in refunds:
        outcome = evaluate_refund(refunded_before=refunded, refund=refund, **purchase)
        steps = {"earned": outcome.reverse_earned, "bonus": outcome.reverse_bonus,
                 "redeemed": outcome.return_redeemed, "stamps": outcome.reverse_stamps,
                 "amount_paid": outcome.refunded_paid}
        refunded += refund
        for name, step in steps.items():
            assert step >= 0, name
            totals[name] += step
            assert totals[name] <= purchase[name], name
            if name != "stamps":
                # Never more than the exact proportion, and less by under one point.
                exact = Fraction(purchase[name] * refunded, amount)
                assert exact - 1 < totals[name] <= exact, name
    if refunded == amount:
        assert totals == {name: purchase[name] for name in totals}
    else:
        assert totals["stamps"] == 0  # a stamp goes only with the whole purchase


@given(purchase=purchases(), data=st.data())
def test_a_refund_past_what_is_left_of_the_purchase_is_refused(
    purchase: dict[str, int], data: st.DataObject
) -> None:
    amount = purchase["amount"]
    refunded = data.draw(st.integers(0, amount), label="refunded_before")
    refund = data.draw(st.integers(amount - refunded + 1, amount - refunded + 10**6),
                       label="refund")
    with pytest.raises(RuleViolation) as raised:
        evaluate_refund(refunded_before=refunded, refund=refund, **purchase)
    assert raised.value.code == "refund_exceeds_purchase"


@given(purchase=purchases(), refund=st.integers(-10**6, 0))
def test_a_refund_of_nothing_or_less_is_refused(purchase: dict[str, int], refund: int) -> None:
    with pytest.raises(RuleViolation) as raised:
        evaluate_refund(refunded_before=0, refund=refund, **purchase)
    assert raised.value.code == "invalid_refund"


@given(purchase=purchases())
def test_a_fully_refunded_purchase_cannot_be_refunded_again(purchase: dict[str, int]) -> None:
    evaluate_refund(refunded_before=0, refund=purchase["amount"], **purchase)
    with pytest.raises(RuleViolation) as raised:
        evaluate_refund(refunded_before=purchase["amount"], refund=1, **purchase)
    assert raised.value.code == "refund_exceeds_purchase"


# --- expiry ------------------------------------------------------------------------------


@given(old_credits=st.integers(0, 10**12), debits=st.integers(0, 10**12))
def test_expiring_twice_expires_nothing_more_the_second_time(
    old_credits: int, debits: int
) -> None:
    first = expiring_points(old_credits=old_credits, debits=debits)
    assert 0 <= first <= old_credits
    assert expiring_points(old_credits=old_credits, debits=debits + first) == 0


@given(old_credits=st.integers(0, 10**12), new_credits=st.integers(0, 10**12),
       debits=st.integers(0, 2 * 10**12))
def test_after_an_expiry_a_card_keeps_its_recent_points_or_its_whole_balance_if_less(
    old_credits: int, new_credits: int, debits: int
) -> None:
    balance = old_credits + new_credits - debits
    assume(balance >= 0)
    expired = expiring_points(old_credits=old_credits, debits=debits)
    assert balance - expired == min(balance, new_credits)
