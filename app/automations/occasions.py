"""Which cards a rule is due to reach now, and for which occasion (``period``).

- welcome: cards that joined ``days`` days ago (up to ``WELCOME_WINDOW`` more: a rule
  switched on does not greet the whole old base) with at most one visit; once per card.
- birthday: customers whose birthday is today (``when: day``) or falls in this Monday to
  Sunday week (``when: week``); once per year. A 29 February birthday is kept on
  28 February in other years.
- we_miss_you: the days since the last visit exceed the customer's own median gap between
  visit days and at least ``floor_days`` (and at most ``max_days``: the long gone are not
  written to); once per absence (the occasion is the last visit's day).
- tier_upgrade: cards that reached a tier (above the entry tier) in the last
  ``TIER_WINDOW``: their spend over the twelve months before it was below the tier;
  once per card and tier.

Every rule reaches only active cards of customers who consented to marketing and were
not erased. Candidates are found by SQL on the database; only we-miss-you reads the
visit days of its candidates (whose last visit is past the floor) to take their median.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, extract, func, or_, select
from sqlalchemy.orm import Session

from app.automations.models import (
    BIRTHDAY,
    TIER_UPGRADE,
    WE_MISS_YOU,
    WELCOME,
    AutomationRule,
    AutomationSend,
)
from app.automations.schemas import RULE_DEFAULTS
from app.cards.models import Card, CardStatus, Customer
from app.ledger.models import Purchase
from app.merchants.models import Program
from app.texts import tier_key

WELCOME_WINDOW = timedelta(days=7)
TIER_WINDOW = timedelta(days=7)
TIER_SPEND_SPAN = timedelta(days=365)  # a tier is reached by twelve months' spend
JOINED = "joined"
CHUNK = 500


@dataclass(frozen=True)
class Occasion:
    card_id: int
    period: str


def due_occasions(session: Session, *, rule: AutomationRule, program: Program,
                  now: datetime) -> list[Occasion]:
    settings = {**RULE_DEFAULTS[rule.kind], **rule.settings}
    if rule.kind == WELCOME:
        return _welcome(session, rule, program, now, int(settings["days"]))
    if rule.kind == BIRTHDAY:
        return _birthday(session, rule, program, now, str(settings["when"]))
    if rule.kind == WE_MISS_YOU:
        return _we_miss_you(session, rule, program, now, int(settings["floor_days"]),
                            int(settings["max_days"]))
    assert rule.kind == TIER_UPGRADE
    return _tier_upgrade(session, rule, program, now)


def _reachable(program: Program) -> Any:
    return (select(Card.id).join(Customer, Customer.id == Card.customer_id)
            .where(Card.program_id == program.id, Card.status == CardStatus.ACTIVE.value,
                   Customer.marketing_consent.is_(True), Customer.erased_at.is_(None)))


def _not_sent(rule: AutomationRule, period: Any) -> Any:
    return ~exists().where(AutomationSend.rule_id == rule.id,
                           AutomationSend.card_id == Card.id, AutomationSend.period == period)


def _welcome(session: Session, rule: AutomationRule, program: Program, now: datetime,
             days: int) -> list[Occasion]:
    joined_by = now - timedelta(days=days)
    query = _reachable(program).where(
        Card.created_at <= joined_by, Card.created_at > joined_by - WELCOME_WINDOW,
        Card.visits <= 1, _not_sent(rule, JOINED))
    return [Occasion(card_id, JOINED) for card_id in session.scalars(query.order_by(Card.id))]


def birthday_dates(today: date, when: str) -> dict[tuple[int, int], date]:
    """The (month, day) of the birthdays celebrated now, each with the day it falls on
    this time (whose year names the occasion)."""
    if when == "day":
        days = [today]
    else:
        monday = today - timedelta(days=today.weekday())
        days = [monday + timedelta(days=offset) for offset in range(7)]
    dates = {(day.month, day.day): day for day in days}
    for day in days:
        leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
        if (day.month, day.day) == (2, 28) and not leap:
            dates[(2, 29)] = day
    return dates


def _birthday(session: Session, rule: AutomationRule, program: Program, now: datetime,
              when: str) -> list[Occasion]:
    dates = birthday_dates(now.date(), when)
    matches = or_(*(and_(extract("month", Customer.birthday) == month,
                         extract("day", Customer.birthday) == day) for month, day in dates))
    rows = session.execute(_reachable(program).add_columns(Customer.birthday)
                           .where(Customer.birthday.is_not(None), matches)
                           .order_by(Card.id)).all()
    due = [Occasion(row.id, str(dates[(row.birthday.month, row.birthday.day)].year))
           for row in rows]
    return _unsent(session, rule, due)


def _unsent(session: Session, rule: AutomationRule, due: Sequence[Occasion]
            ) -> list[Occasion]:
    """``due`` less the occasions the rule has acted on already."""
    done: set[tuple[int, str]] = set()
    for start in range(0, len(due), CHUNK):
        chunk = due[start:start + CHUNK]
        done |= {(row.card_id, row.period) for row in session.execute(
            select(AutomationSend.card_id, AutomationSend.period).where(
                AutomationSend.rule_id == rule.id,
                AutomationSend.card_id.in_([each.card_id for each in chunk])))}
    return [each for each in due if (each.card_id, each.period) not in done]


def _we_miss_you(session: Session, rule: AutomationRule, program: Program, now: datetime,
                 floor_days: int, max_days: int) -> list[Occasion]:
    rows = session.execute(_reachable(program).add_columns(Card.last_visit_at).where(
        Card.last_visit_at < now - timedelta(days=floor_days),
        Card.last_visit_at > now - timedelta(days=max_days)).order_by(Card.id)).all()
    absent = _unsent(session, rule, [Occasion(row.id, row.last_visit_at.date().isoformat())
                                     for row in rows])
    due = []
    for start in range(0, len(absent), CHUNK):
        chunk = absent[start:start + CHUNK]
        gaps = median_gaps(session, [each.card_id for each in chunk])
        for each in chunk:
            away = (now.date() - date.fromisoformat(each.period)).days
            if away > max(gaps.get(each.card_id, 0), floor_days):
                due.append(each)
    return due


def median_gaps(session: Session, card_ids: Sequence[int]) -> dict[int, float]:
    """Each card's median number of days between its visit days (cards with fewer than
    two visit days are left out)."""
    visit_days: dict[int, set[date]] = defaultdict(set)
    for row in session.execute(select(Purchase.card_id, Purchase.created_at)
                               .where(Purchase.card_id.in_(card_ids))):
        visit_days[row.card_id].add(row.created_at.date())
    gaps = {}
    for card_id, days in visit_days.items():
        ordered = sorted(days)
        if len(ordered) > 1:
            gaps[card_id] = statistics.median(
                (later - earlier).days for earlier, later in itertools.pairwise(ordered))
    return gaps


def _tier_upgrade(session: Session, rule: AutomationRule, program: Program, now: datetime
                  ) -> list[Occasion]:
    since = now - TIER_WINDOW
    net = Purchase.amount_paid - Purchase.refunded_paid
    spend_before = (select(func.coalesce(func.sum(net), 0))
                    .where(Purchase.card_id == Card.id,
                           Purchase.created_at > since - TIER_SPEND_SPAN,
                           Purchase.created_at <= since).scalar_subquery())
    due = []
    for tier in program.tiers:
        if int(tier.get("min_spend") or 0) <= 0:
            continue  # the entry tier: every card is in it from the start
        key = tier_key(tier)
        query = _reachable(program).where(
            Card.tier == key, Card.last_visit_at > since, _not_sent(rule, key),
            spend_before < int(tier["min_spend"]))
        due += [Occasion(card_id, key) for card_id in session.scalars(query.order_by(Card.id))]
    return due
