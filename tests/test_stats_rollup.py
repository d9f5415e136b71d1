"""The worker's roll-up of the stats' summaries: days roll up once they are over, never
twice, in one round or many; the cards are counted every few minutes and the stats say
when; two workers at once write each day once; a rebuild gives the same figures."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analytics.days import day_of, number_of
from app.analytics.models import LocationVisitDay, StatsDay, StatsRollup, VisitDay
from app.analytics.rollup import (
    CHUNK_DAYS,
    CHUNKS_PER_ROUND,
    COUNT_EVERY,
    ROLL_AFTER,
    last_closed_day,
    rebuild,
    roll_up,
    roll_up_due,
)
from app.analytics.stats import ProgramStats, program_stats
from app.merchants.models import Program
from tests.conftest import Api
from tests.stats_history import DAYS, FIRST_DAY, History, generate

LAST_DAY = FIRST_DAY + timedelta(days=DAYS + 3)


@pytest.fixture
def history(session: Session, api: Api, program: dict[str, Any]) -> History:
    return generate(session, api, program, seed=15)


def _figures(session: Session, history: History, location: int | None = None
             ) -> ProgramStats:
    program = session.get(Program, history.program_id)
    assert program is not None
    figures = program_stats(session, program=program, start=FIRST_DAY, end=LAST_DAY,
                            location_id=location)
    session.rollback()
    return figures


def _rows(session: Session, history: History) -> tuple[int, int, int]:
    counts = tuple(int(session.scalar(select(func.count()).select_from(model).where(
        model.program_id == history.program_id)) or 0)
        for model in (StatsDay, VisitDay, LocationVisitDay))
    session.rollback()
    return counts  # type: ignore[return-value]


def _through(session: Session, history: History) -> int | None:
    through = session.scalar(select(StatsRollup.through_day).where(
        StatsRollup.program_id == history.program_id))
    session.rollback()
    return through


def test_a_day_rolls_up_only_once_it_has_been_over_for_a_while(
        session: Session, history: History) -> None:
    midnight = datetime.combine(FIRST_DAY + timedelta(days=20), time.min)
    roll_up_due(session, now=midnight + ROLL_AFTER - timedelta(seconds=1))
    assert _through(session, history) == number_of(FIRST_DAY + timedelta(days=18))
    roll_up_due(session, now=midnight + ROLL_AFTER)
    assert _through(session, history) == number_of(FIRST_DAY + timedelta(days=19))
    assert last_closed_day(midnight + ROLL_AFTER) == number_of(midnight.date()) - 1


def test_a_long_history_is_rolled_up_over_several_rounds_that_each_stop_soon(
        session: Session, history: History) -> None:
    now = datetime.combine(LAST_DAY + timedelta(days=200), time(12))
    rounds = []
    while not rounds or rounds[-1].more:
        [done] = roll_up_due(session, now=now)
        rounds.append(done)
        assert done.days <= CHUNKS_PER_ROUND * CHUNK_DAYS
    assert len(rounds) > 2 and all(done.more for done in rounds[:-1])
    assert _through(session, history) == last_closed_day(now)
    assert _figures(session, history).__dict__ | {"cards_counted_at": None} == (
        _live_figures(session, history).__dict__)


def _live_figures(session: Session, history: History) -> ProgramStats:
    rebuild(session, program_id=history.program_id)
    return _figures(session, history)


def test_rolling_up_again_rolls_nothing_and_changes_no_figure(
        session: Session, history: History) -> None:
    live = _figures(session, history)
    through = number_of(LAST_DAY)
    first = roll_up(session, program_id=history.program_id, through=through,
                    now=datetime.combine(LAST_DAY, time.max))
    rows = _rows(session, history)
    again = roll_up(session, program_id=history.program_id, through=through,
                    now=datetime.combine(LAST_DAY, time.max))
    assert first.days > CHUNK_DAYS and again.days == 0
    assert _rows(session, history) == rows and rows[0] > 0 and rows[1] > 0 and rows[2] > 0
    rolled = _figures(session, history)
    assert rolled.cards_counted_at is not None and live.cards_counted_at is None
    assert rolled.__dict__ | {"cards_counted_at": None} == live.__dict__


def test_a_history_rolled_up_a_day_a_round_gives_what_one_round_gives(
        session: Session, history: History) -> None:
    location = history.locations[0]
    live = (_figures(session, history), _figures(session, history, location))
    day = FIRST_DAY - timedelta(days=1)
    while day <= LAST_DAY:
        roll_up(session, program_id=history.program_id, through=number_of(day),
                now=datetime.combine(day, time.max), count_every=None)
        day += timedelta(days=1)
    daily = (_figures(session, history), _figures(session, history, location))
    for rolled, want in zip(daily, live, strict=True):
        assert rolled.__dict__ | {"cards_counted_at": None} == want.__dict__
    rows = _rows(session, history)
    rebuild(session, program_id=history.program_id)
    assert _rows(session, history) == (0, 0, 0) and _through(session, history) is None
    roll_up(session, program_id=history.program_id, through=number_of(LAST_DAY),
            now=datetime.combine(LAST_DAY, time.max))
    assert _rows(session, history)[1:] == rows[1:]  # a visit day is a visit day


def test_the_cards_are_counted_every_few_minutes_and_the_stats_say_when(
        session: Session, api: Api, history: History, program: dict[str, Any]) -> None:
    counted = datetime.combine(LAST_DAY, time(12))
    roll_up(session, program_id=history.program_id, through=number_of(LAST_DAY) - 1,
            now=counted)
    before = _figures(session, history)
    assert before.cards_counted_at == counted
    api.post(f"/api/v1/programs/{program['id']}/cards", {"name": "Late", "email": "l@e.com"})
    soon = roll_up(session, program_id=history.program_id, through=number_of(LAST_DAY) - 1,
                   now=counted + COUNT_EVERY - timedelta(seconds=1))
    assert not soon.counted and _figures(session, history).reach.cards == before.reach.cards
    later = roll_up(session, program_id=history.program_id, through=number_of(LAST_DAY) - 1,
                    now=counted + COUNT_EVERY)
    after = _figures(session, history)
    assert later.counted and after.reach.cards == before.reach.cards + 1
    assert after.reach.never_installed == before.reach.never_installed + 1
    assert after.cards_counted_at == counted + COUNT_EVERY


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_rolling_up_at_once_write_each_day_once(
        app: Flask, session: Session, history: History) -> None:
    sessions = app.extensions["loyalpass"].sessions
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            with sessions() as own:
                start.wait()
                roll_up(own, program_id=history.program_id, through=number_of(LAST_DAY),
                        now=datetime.combine(LAST_DAY, time.max))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    visits = session.execute(select(VisitDay.card_id, VisitDay.day).where(
        VisitDay.program_id == history.program_id)).all()
    assert len(visits) == len(set(visits)) == len({(sale.card, sale.at.date())
                                                    for sale in history.sales})
    session.rollback()
    purchases = session.scalar(select(func.sum(StatsDay.purchases)).where(
        StatsDay.program_id == history.program_id))
    assert purchases == len(history.sales)


def test_the_command_line_rolls_up_and_rebuilds(
        app: Flask, session: Session, history: History, config: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    monkeypatch.setenv("LOYALPASS_DATABASE_URL", config.database_url)
    runner = CliRunner()
    done = runner.invoke(main, ["stats", "roll-up"])
    assert done.exit_code == 0, done.output
    through = _through(session, history)
    assert through is not None and day_of(through) < date.today()
    assert _rows(session, history)[0] > 0
    again = runner.invoke(main, ["stats", "rebuild", "--program", str(history.program_id)])
    assert again.exit_code == 0, again.output
    assert _through(session, history) is None and _rows(session, history) == (0, 0, 0)
