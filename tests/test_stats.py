"""A program's stats over a generated history: every figure equals a direct computation
in Python over what was generated, on SQLite and PostgreSQL, whether the worker has rolled
none of the history up into the summaries (every figure from the live tables), part of it
(the days before, and the days after, the periods' starts and ends), or all of it."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.analytics.budget import budget_state, over_budget
from app.analytics.days import number_of
from app.analytics.rollup import roll_up
from app.analytics.stats import daily_figures, program_stats
from app.merchants.models import Program
from tests.conftest import Api
from tests.stats_history import DAYS, FIRST_DAY, History, generate

START, END = FIRST_DAY + timedelta(days=10), FIRST_DAY + timedelta(days=40)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def expected(history: History, start: date, end: date, where: set[int] | None
             ) -> dict[str, Any]:
    """Every figure, from the generated lists."""
    low, high = _bounds(start, end)

    def inside(at: datetime) -> bool:
        return low <= at < high

    def here(location: int | None) -> bool:
        return where is None or location in where

    cards = history.cards
    sales = [s for s in history.sales if inside(s.at) and here(s.location)]
    by_id = {s.id: s for s in history.sales}
    refunded = sum(amount for sale, amount, at in history.refunds
                   if inside(at) and here(by_id[sale].location))
    entries = [e for e in history.entries if inside(e.at)
               and here(e.location if e.location is not None else cards[e.card]["location"])]
    issued = sum(e.points for e in entries if e.kind in ("earn", "bonus", "welcome")
                 or (e.kind == "reverse" and e.points < 0))
    redeemed = -sum(e.points for e in entries if e.kind == "redeem"
                    or (e.kind == "reverse" and e.points > 0))
    outstanding = sum(e.points for e in history.entries
                      if e.at < high and here(cards[e.card]["location"]))
    days: dict[int, set[date]] = defaultdict(set)
    for sale in sales:
        days[sale.card].add(sale.at.date())
    gaps = [(b - a).days for visited in days.values()
            for a, b in zip(sorted(visited), sorted(visited)[1:], strict=False)]
    month = high - timedelta(days=30)
    turnover = sum(s.amount for s in sales) - refunded
    return {
        "enrollments": sum(1 for c in cards.values() if inside(c["created"]) and here(
            c["location"])),
        "purchases": len(sales), "turnover": turnover, "refunded": refunded,
        "average_check": round(sum(s.amount for s in sales) / len(sales)) if sales else 0,
        "points_issued": issued, "points_redeemed": redeemed,
        "points_expired": -sum(e.points for e in entries if e.kind == "expire"),
        "points_adjusted": sum(e.points for e in entries if e.kind == "adjust"),
        "points_outstanding": outstanding, "liability": outstanding * 100,
        "reward_cost_share": issued * 100 / turnover if turnover > 0 else None,
        "active": len({s.card for s in history.sales
                       if month <= s.at < high and here(s.location)}),
        "customers": len(days), "visits": sum(len(v) for v in days.values()),
        "repeat": sum(1 for v in days.values() if len(v) >= 2),
        "median_gap": statistics.median(gaps) if gaps else None,
        "installs": _wallet_counts(history, "installed", inside, where),
        "removals": _wallet_counts(history, "removed", inside, where),
        "tiers": _tiers(history, where),
    }


def _wallet_counts(history: History, kind: str, inside: Any, where: set[int] | None
                   ) -> dict[str, int]:
    counts = {"apple": 0, "google": 0}
    for card, wallet, happened, at in history.events:
        if happened == kind and inside(at) and (
                where is None or history.cards[card]["location"] in where):
            counts[wallet] += 1
    return counts


def _tiers(history: History, where: set[int] | None) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for card in history.cards.values():
        if card["tier"] is not None and (where is None or card["location"] in where):
            counts[card["tier"]] += 1
    return dict(counts)


# How far the worker has rolled the history up before the figures are read: not at all;
# into the middle of the periods read; past every day of it.
ROLLED_UP = {"live": None, "rolled-partway": FIRST_DAY + timedelta(days=25),
             "rolled-up": FIRST_DAY + timedelta(days=DAYS + 5)}


@pytest.fixture(params=list(ROLLED_UP))
def history(request: pytest.FixtureRequest, session: Session, api: Api,
            program: dict[str, Any]) -> History:
    generated = generate(session, api, program, seed=14)
    through = ROLLED_UP[request.param]
    if through is not None:
        done = roll_up(session, program_id=generated.program_id, through=number_of(through),
                       now=datetime.combine(through, time.max), count_every=None)
        assert done.days > 0 and done.counted
    return generated


def _program(session: Session, history: History) -> Program:
    program = session.get(Program, history.program_id)
    assert program is not None
    return program


@pytest.mark.parametrize("at_location", [False, True], ids=["every-location", "one-location"])
def test_every_figure_equals_a_direct_computation_over_the_history(
        session: Session, history: History, at_location: bool) -> None:
    location = history.locations[0] if at_location else None
    figures = program_stats(session, program=_program(session, history), start=START, end=END,
                            location_id=location)
    want = expected(history, START, END, {location} if location else None)
    assert want["purchases"] > 10 and want["refunded"] > 0 and want["median_gap"] is not None
    got = {
        "enrollments": figures.enrollments, "purchases": figures.purchases,
        "turnover": figures.turnover, "refunded": figures.refunded,
        "average_check": figures.average_check, "points_issued": figures.points_issued,
        "points_redeemed": figures.points_redeemed, "points_expired": figures.points_expired,
        "points_adjusted": figures.points_adjusted,
        "points_outstanding": figures.points_outstanding, "liability": figures.liability,
        "reward_cost_share": figures.reward_cost_share,
        "active": figures.visits.active_customers_30d, "customers": figures.visits.customers,
        "visits": figures.visits.visits, "repeat": figures.visits.repeat_customers,
        "median_gap": figures.visits.median_days_between_visits,
        "installs": figures.installs, "removals": figures.removals, "tiers": figures.tiers,
    }
    assert got.pop("reward_cost_share") == pytest.approx(want.pop("reward_cost_share"))
    assert got == want


def test_each_day_of_the_daily_figures_equals_a_direct_computation_of_that_day(
        session: Session, history: History) -> None:
    program = _program(session, history)
    rows = daily_figures(session, program=program, start=START, end=END, location_id=None)
    assert [row.day for row in rows] == [START + timedelta(days=n) for n in range(31)]
    for row in rows:
        want = expected(history, row.day, row.day, None)
        low, high = _bounds(row.day, row.day)
        liability = 100 * sum(e.points for e in history.entries if e.at < high)
        assert row.liability == liability
        assert row.enrollments == sum(1 for card in history.cards.values()
                                      if low <= card["created"] < high)
        assert (row.purchases, row.turnover, row.average_check, row.points_issued,
                row.points_redeemed, row.points_expired, row.installs, row.removals) == (
            want["purchases"], want["turnover"], want["average_check"], want["points_issued"],
            want["points_redeemed"], want["points_expired"], want["installs"],
            want["removals"])
    assert sum(row.purchases for row in rows) == expected(history, START, END, None)["purchases"]


def test_reach_counts_reachable_failing_removed_and_never_installed_cards(
        session: Session, history: History) -> None:
    figures = program_stats(session, program=_program(session, history), start=START, end=END,
                            location_id=None)
    states = [card.get("wallet_state", 4)
              for card in history.cards.values()]
    reach = figures.reach
    assert (reach.cards, reach.reachable, reach.failing, reach.removed, reach.never_installed
            ) == (len(states), states.count(0) + states.count(2), states.count(1),
                  states.count(3), states.count(4))
    assert reach.share == pytest.approx((states.count(0) + states.count(2)) / len(states))


def test_a_period_without_activity_has_zeros_and_no_ratios(
        session: Session, history: History) -> None:
    quiet = date(2025, 1, 1)
    figures = program_stats(session, program=_program(session, history), start=quiet,
                            end=quiet, location_id=None)
    assert (figures.purchases, figures.turnover, figures.average_check, figures.enrollments,
            figures.points_issued, figures.points_outstanding) == (0, 0, 0, 0, 0, 0)
    assert figures.reward_cost_share is None and figures.visits.frequency is None
    assert figures.visits.median_days_between_visits is None


def test_a_program_is_over_budget_when_its_rewards_cost_more_than_the_budgets_share(
        session: Session, history: History) -> None:
    program = _program(session, history)
    last_day = max(sale.at.date() for sale in history.sales)
    state = budget_state(session, program=program, today=last_day)
    want = expected(history, last_day - timedelta(days=29), last_day, None)
    assert state.share == pytest.approx(want["reward_cost_share"])
    assert state.share is not None
    program.reward_budget_percent = Decimal(str(round(state.share * 100 - 0.01, 3)))
    assert over_budget(session, program, today=last_day)
    program.reward_budget_percent = Decimal(str(round(state.share * 100 + 0.01, 3)))
    assert not over_budget(session, program, today=last_day)
    assert not over_budget(session, program, today=date(2025, 1, 1))  # no turnover then


@pytest.mark.parametrize("days", [7, 30, 75], ids=["a-week", "a-month", "over-two-months"])
def test_visit_figures_over_shorter_and_longer_periods_equal_a_direct_computation(
        session: Session, history: History, days: int) -> None:
    """Active customers come from the visits' own pass when the period holds the 30 days
    that end with it, and from a query of their own when it is shorter: both exact."""
    end = max(sale.at.date() for sale in history.sales) - timedelta(days=3)
    start = end - timedelta(days=days - 1)
    for location in (None, history.locations[1]):
        visits = program_stats(session, program=_program(session, history), start=start,
                               end=end, location_id=location).visits
        want = expected(history, start, end, {location} if location else None)
        assert want["active"] > 0 and want["customers"] > 0
        assert (visits.active_customers_30d, visits.customers, visits.visits,
                visits.repeat_customers, visits.median_days_between_visits) == (
            want["active"], want["customers"], want["visits"], want["repeat"],
            want["median_gap"])
