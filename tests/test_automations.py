"""Automatic offers over a simulated month (the clock is the runner's ``now``): each rule
reaches a customer once per occasion, never one without consent, keeps its control
group, waits within the weekly cap, pauses over budget, and a rerun or a second worker
sends nothing twice. Expected sends are computed in the tests from the generated
history."""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.automations.models import AutomationSend
from app.automations.occasions import birthday_dates
from app.automations.runner import RunSummary, never_over_budget, run_automations
from app.automations.schemas import AutomationsInput
from app.automations.service import save_automations
from app.cards.models import Card
from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.delivery.fanout import drain_outbox
from app.google_wallet.account import GoogleAccount
from app.google_wallet.models import GoogleMessage, GoogleObject
from app.ledger.models import Purchase
from app.merchants.models import Program
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_merchant, create_program
from app.offers.models import CardOffer, Offer
from app.offers.service import current_offers, in_control_group
from app.outbox.models import OutboxMessage

START = datetime(2026, 3, 1, 9, 0)  # a Sunday; the month simulated is March 2026
DAYS = 31


@dataclass(frozen=True)
class Setup:
    program: Program
    cards: dict[str, int]


def _program(session: Session) -> Program:
    merchant = create_merchant(session, name="Kava Bar", email="owner@kavabar.example")
    return create_program(session, merchant_id=merchant.merchant.id, data=ProgramCreate(
        name="Kava Club", locales=["en", "uk"],
        tiers=[{"name": "Silver", "min_spend": 0, "earn_percent": 2},
               {"name": "Gold", "min_spend": 100_000, "earn_percent": 3}]))


def _card(session: Session, program: Program, name: str, *, consent: bool = True,
          birthday: date | None = None, joined: datetime = START - timedelta(days=400)
          ) -> int:
    card = enroll(session, program=program, data=EnrolmentInput(
        name=name, email=f"{name}@example.com", marketing_consent=consent,
        birthday=birthday)).card
    card.created_at = joined
    session.commit()
    return card.id


def _visits(session: Session, card_id: int, moments: list[datetime], amount: int = 5_000,
            tier: str | None = None) -> None:
    """Purchases at ``moments``, with the card's cached figures as the ledger keeps them."""
    card = session.get(Card, card_id)
    assert card is not None
    for moment in moments:
        session.add(Purchase(merchant_id=card.merchant_id, program_id=card.program_id,
                             card_id=card_id, amount=amount, amount_paid=amount,
                             earn_percent=0, created_at=moment))
    card.visits += len(moments)
    card.lifetime_spend += amount * len(moments)
    card.last_visit_at = max([*moments, *([card.last_visit_at] if card.last_visit_at else [])])
    if tier is not None:
        card.tier = tier
    session.commit()


def _switch_on(session: Session, program: Program, **rules: dict[str, Any]) -> None:
    save_automations(session, program=program, data=AutomationsInput.model_validate(
        {"weekly_cap": 21, "rules": {kind: {"enabled": True, "title": f"{kind} offer",
                                             **settings} for kind, settings in rules.items()}}))


def _month(session: Session, *, runs_a_day: int = 2, days: int = DAYS) -> list[RunSummary]:
    summaries = []
    for day in range(days):
        for run in range(runs_a_day):
            now = START + timedelta(days=day, hours=6 * run)
            summaries.append(run_automations(session, now=now, over_budget=never_over_budget))
    return summaries


def _sends(session: Session) -> list[AutomationSend]:
    session.rollback()
    return list(session.scalars(select(AutomationSend).order_by(AutomationSend.id)))


def _offer_pushes(session: Session, card_id: int) -> int:
    rows = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.card_id == card_id))
    return sum(1 for payload in rows if (payload or {}).get("offer_id"))


def test_birthdays_get_one_offer_each_in_the_month_and_never_without_consent(
        session: Session) -> None:
    program = _program(session)
    people = {
        "anna": (True, date(1990, 3, 4)), "bohdan": (True, date(1985, 3, 17)),
        "daria": (True, date(2000, 3, 31)), "ivan": (False, date(1992, 3, 10)),
        "oksana": (True, None), "petro": (True, date(1970, 7, 1)),
        **{f"guest{number}": (True, date(1980 + number, 3, 1 + number)) for number in range(12)},
    }
    cards = {name: _card(session, program, name, consent=consent, birthday=birthday)
             for name, (consent, birthday) in people.items()}
    _switch_on(session, program, birthday={"when": "day", "holdout_percent": 30})

    _month(session)

    sends = _sends(session)
    expected = {cards[name] for name, (consent, birthday) in people.items()
                if consent and birthday is not None and birthday.month == 3}
    assert sorted(send.card_id for send in sends) == sorted(expected)  # once each
    assert {send.period for send in sends} == {"2026"}
    for send in sends:
        # Each on its birthday, not before it, not after it.
        birthday = people[next(name for name, card in cards.items() if card == send.card_id)][1]
        assert birthday is not None and send.created_at.date() == date(2026, 3, birthday.day)
    _assert_holdout_kept(session, sends)


def _assert_holdout_kept(session: Session, sends: list[AutomationSend]) -> None:
    """The control group is the stable hash's, held-out cards have their row and nothing
    on the pass or in the outbox; the others have the offer on the pass and one push."""
    percent = session.get(Offer, sends[0].offer_id).audience["holdout_percent"]  # type: ignore[union-attr]
    held = [send for send in sends if send.held_out]
    assert held and len(held) < len(sends)  # both groups exist
    for send in sends:
        assert send.held_out == in_control_group(send.offer_id, send.card_id, percent)
        row = session.get(CardOffer, (send.offer_id, send.card_id))
        assert row is not None and row.held_out == send.held_out
        assert _offer_pushes(session, send.card_id) == (0 if send.held_out else 1)
        shown = current_offers(session, card_id=send.card_id, now=send.created_at)
        assert [offer.id for offer in shown] == ([] if send.held_out else [send.offer_id])


def test_the_birthday_week_sends_on_the_first_run_of_the_week_and_keeps_29_february(
        session: Session) -> None:
    assert set(birthday_dates(date(2027, 2, 24), "week")) == {
        (2, 22), (2, 23), (2, 24), (2, 25), (2, 26), (2, 27), (2, 28), (2, 29)}
    assert set(birthday_dates(date(2028, 2, 28), "day")) == {(2, 28)}  # a leap year
    program = _program(session)
    sunday = _card(session, program, "sunday", birthday=date(1990, 3, 15))
    _switch_on(session, program, birthday={"when": "week"})

    _month(session)

    [send] = _sends(session)
    assert send.card_id == sunday and send.created_at.date() == date(2026, 3, 9)  # its Monday


def _expected_miss_you(visits: list[datetime], floor: int, until: datetime) -> datetime | None:
    """The first daily run at which the customer's absence exceeds their median gap and
    the floor, computed from their visits directly."""
    days = sorted({moment.date() for moment in visits})
    gaps = [(days[index + 1] - days[index]).days for index in range(len(days) - 1)]
    threshold = max(statistics.median(gaps) if gaps else 0, floor)
    for day in range(DAYS):
        for run in range(2):
            now = START + timedelta(days=day, hours=6 * run)
            if now <= until and (now.date() - days[-1]).days > threshold:
                return now
    return None


def test_we_miss_you_fires_once_per_absence_when_the_gap_exceeds_the_customers_own(
        session: Session) -> None:
    program = _program(session)
    histories = {
        "regular": [START - timedelta(days=3 * n + 2) for n in range(10)],  # every 3 days
        "monthly": [START - timedelta(days=20 * n + 1) for n in range(6)],  # every 20 days
        "once": [START - timedelta(days=2)],  # no gap of their own: the floor
        "gone": [START - timedelta(days=500)],  # past max_days
        "no_consent": [START - timedelta(days=3 * n + 2) for n in range(10)],
    }
    cards = {name: _card(session, program, name, consent=name != "no_consent")
             for name in histories}
    for name, moments in histories.items():
        _visits(session, cards[name], moments)
    _switch_on(session, program, we_miss_you={"floor_days": 7, "holdout_percent": 0})

    _month(session)

    sends = _sends(session)
    by_card = {send.card_id: send for send in sends}
    assert len(by_card) == len(sends)  # once per customer and absence
    for name, moments in histories.items():
        expected = (None if name in {"gone", "no_consent"}
                    else _expected_miss_you(moments, 7, START + timedelta(days=DAYS)))
        sent = by_card.get(cards[name])
        assert (sent.created_at if sent else None) == expected, name
        if sent is not None:
            assert sent.period == max(moments).date().isoformat()


def test_a_customer_who_comes_back_and_stays_away_again_is_missed_again(
        session: Session) -> None:
    program = _program(session)
    card = _card(session, program, "regular")
    _visits(session, card, [START - timedelta(days=3 * n + 2) for n in range(10)])
    _switch_on(session, program, we_miss_you={"floor_days": 7})
    _month(session, days=10)
    _visits(session, card, [START + timedelta(days=10, hours=3)])  # back on day 10

    for day in range(10, DAYS):
        run_automations(session, now=START + timedelta(days=day), over_budget=never_over_budget)

    first, second = _sends(session)
    assert first.period != second.period and second.period == "2026-03-11"
    assert (second.created_at - first.created_at).days >= 8


def test_welcome_greets_after_n_days_only_those_without_a_second_visit(
        session: Session) -> None:
    program = _program(session)
    joined = START + timedelta(days=5)
    one_visit = _card(session, program, "one", joined=joined)
    two_visits = _card(session, program, "two", joined=joined)
    never_came = _card(session, program, "none", joined=joined + timedelta(days=2))
    no_consent = _card(session, program, "quiet", consent=False, joined=joined)
    old_member = _card(session, program, "old", joined=START - timedelta(days=90))
    _visits(session, one_visit, [joined])
    _visits(session, two_visits, [joined, joined + timedelta(days=1)])
    _switch_on(session, program, welcome={"days": 3})

    _month(session)

    sends = _sends(session)
    assert [(send.card_id, send.created_at.date()) for send in sends] == [
        (one_visit, date(2026, 3, 9)), (never_came, date(2026, 3, 11))]
    assert {no_consent, old_member, two_visits}.isdisjoint(send.card_id for send in sends)


def test_a_tier_upgrade_is_announced_once_to_those_who_reached_it_lately(
        session: Session) -> None:
    program = _program(session)
    upgraded = _card(session, program, "upgraded")
    long_gold = _card(session, program, "long")
    silver = _card(session, program, "silver")
    _visits(session, upgraded, [START - timedelta(days=40)], amount=60_000)
    _visits(session, long_gold, [START - timedelta(days=100)], amount=150_000, tier="Gold")
    _visits(session, silver, [START + timedelta(days=3)], amount=5_000, tier="Silver")
    _switch_on(session, program, tier_upgrade={})
    _month(session, days=12)
    _visits(session, long_gold, [START + timedelta(days=12)], amount=1_000, tier="Gold")
    _visits(session, upgraded, [START + timedelta(days=12)], amount=50_000, tier="Gold")

    for day in range(12, DAYS):
        run_automations(session, now=START + timedelta(days=day, hours=8),
                        over_budget=never_over_budget)

    [send] = _sends(session)
    assert (send.card_id, send.period, send.created_at.date()) == (upgraded, "Gold",
                                                                  date(2026, 3, 13))


def test_the_weekly_cap_holds_a_second_message_and_sends_it_once_the_week_is_over(
        session: Session) -> None:
    program = _program(session)
    card = _card(session, program, "anna", birthday=date(1990, 3, 12))
    _visits(session, card, [START - timedelta(days=3 * n) for n in range(10)])
    _switch_on(session, program, birthday={"when": "week"}, we_miss_you={"floor_days": 7})
    save_automations(session, program=program,
                     data=AutomationsInput.model_validate({"weekly_cap": 1}))

    summaries = _month(session, days=20)

    sends = _sends(session)
    assert len(sends) == 2
    assert sends[1].created_at - sends[0].created_at >= timedelta(days=7)
    assert sum(summary.capped for summary in summaries) > 0


def test_nothing_is_sent_while_the_program_is_over_budget_unless_the_merchant_says_go_on(
        session: Session) -> None:
    program = _program(session)
    _card(session, program, "anna", birthday=START.date())
    _switch_on(session, program, birthday={})

    paused = run_automations(session, now=START, over_budget=lambda session, program: True)
    assert paused.paused_programs == 1 and _sends(session) == []

    save_automations(session, program=program,
                     data=AutomationsInput.model_validate({"pause_over_budget": False}))
    going = run_automations(session, now=START, over_budget=lambda session, program: True)
    assert going.sent == 1 and len(_sends(session)) == 1


def test_a_rule_switched_off_sends_nothing_more(session: Session) -> None:
    program = _program(session)
    _card(session, program, "anna", birthday=START.date() + timedelta(days=2))
    _switch_on(session, program, birthday={})
    save_automations(session, program=program, data=AutomationsInput.model_validate(
        {"rules": {"birthday": {"enabled": False}}}))

    _month(session, days=5)

    assert _sends(session) == []


def test_two_workers_running_at_once_send_each_occasion_once(app: Flask, session: Session
                                                             ) -> None:
    program = _program(session)
    for number in range(30):
        _card(session, program, f"guest{number}", birthday=START.date())
    _switch_on(session, program, birthday={"holdout_percent": 20})
    session.rollback()  # the test holds no transaction (SQLite's lock) while they run
    sessions = app.extensions["loyalpass"].sessions
    results: list[RunSummary] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        with sessions() as own:
            barrier.wait()
            results.append(run_automations(own, now=START, over_budget=never_over_budget))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sends = _sends(session)
    assert len(sends) == 30 and len({send.card_id for send in sends}) == 30
    assert sum(result.sent + result.held_out for result in results) == 30
    offered = session.scalars(select(OutboxMessage.payload)).all()
    treated = [send for send in sends if not send.held_out]
    assert sum(1 for payload in offered if (payload or {}).get("offer_id")) == len(treated)


@pytest.mark.parametrize("runs", [1, 3])
def test_a_rerun_on_the_same_day_sends_nothing_more(session: Session, runs: int) -> None:
    program = _program(session)
    _card(session, program, "anna", birthday=START.date())
    _switch_on(session, program, birthday={})

    summaries = [run_automations(session, now=START + timedelta(minutes=run),
                                 over_budget=never_over_budget) for run in range(runs)]

    assert [summary.sent for summary in summaries] == [1] + [0] * (runs - 1)
    assert len(_sends(session)) == 1


def test_a_sent_automatic_offer_becomes_one_google_message_in_the_customers_language_on_saved_cards(
        session: Session) -> None:
    program = _program(session)
    cards = [_card(session, program, f"guest{number}", birthday=START.date())
             for number in range(12)]
    account = GoogleAccount(issuer_id="3388000000012345678", service_account={},
                            signer=cast(Any, None), origin="https://cards.example.test")
    while drain_outbox(session, google=account):  # the enrolments: every card's object
        pass
    save_automations(session, program=program, data=AutomationsInput.model_validate(
        {"rules": {"birthday": {"enabled": True, "holdout_percent": 40, "title": {
            "en": "Happy birthday!", "uk": "З днем народження!"}}}}))
    run_automations(session, now=START, over_budget=never_over_budget)
    sends = {send.card_id: send for send in _sends(session)}
    assert set(sends) == set(cards)
    # One customer sent the offer never saved the card to Google Wallet: the rest did.
    never = next(card for card in cards if not sends[card].held_out)
    saved = [card for card in cards if card != never]
    session.execute(update(GoogleObject).where(GoogleObject.card_id.in_(saved))
                    .values(saved_at=START))
    session.commit()

    while drain_outbox(session, google=account):
        pass

    messages = session.scalars(select(GoogleMessage).where(GoogleMessage.kind == "offer")).all()
    assert sorted(message.card_id for message in messages) == sorted(
        card for card, send in sends.items() if not send.held_out and card != never)
    assert {(message.offer_id, message.header) for message in messages} == {
        (next(iter(sends.values())).offer_id, "Happy birthday!")}
