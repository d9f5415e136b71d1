"""The analytics page: the program's figures over the chosen days and location, as the
stats API computes them, with its charts, the reward budget line and CSV tables; a member
limited to locations reads theirs only, and a bad period keeps the page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.analytics.stats import daily_figures, program_stats
from app.merchants.models import Program
from app.web.formats import page_formats
from tests.conftest import Api
from tests.dashboard_helpers import member, signed_in
from tests.stats_history import FIRST_DAY, History, generate

START, END = FIRST_DAY + timedelta(days=10), FIRST_DAY + timedelta(days=40)
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}


@pytest.fixture
def history(session: Session, api: Api, program: dict[str, Any]) -> History:
    return generate(session, api, program, seed=14)


def _owner(app: Flask, session: Session, history: History, role: str = "owner",
           locations: tuple[int, ...] = ()) -> FlaskClient:
    email = f"{role}{len(locations)}@kava.example"
    member(session, history.merchant_id, role, email, locations)
    return signed_in(app, email)


def _program(session: Session, history: History) -> Program:
    program = session.get(Program, history.program_id)
    assert program is not None
    return program


def _stats(session: Session, history: History, location: int | None = None) -> Any:
    """The stats the page should show; the test's read ends before the app is asked (a
    read left open on SQLite would hold the app's writes back)."""
    figures = program_stats(session, program=_program(session, history), start=START,
                            end=END, location_id=location)
    session.rollback()
    return figures


def _page(client: FlaskClient, history: History, **query: Any) -> Any:
    return client.get(f"/dashboard/programs/{history.program_id}/analytics",
                      query_string={**PERIOD, "lang": "en", **query})


def _csv(client: FlaskClient, history: History, table: str, **query: Any) -> list[list[str]]:
    response = client.get(f"/dashboard/programs/{history.program_id}/analytics/{table}.csv",
                          query_string={**PERIOD, **query})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_page_shows_the_programs_figures_for_the_days_chosen(
        app: Flask, session: Session, history: History) -> None:
    client = _owner(app, session, history)
    figures = _stats(session, history)
    response = _page(client, history)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = page_formats("en", "UAH")
    for label, value in (("Turnover", shown.money(figures.turnover)),
                         ("Points issued", shown.number(figures.points_issued)),
                         ("Points redeemed", shown.number(figures.points_redeemed)),
                         ("Liability", shown.money(figures.liability))):
        assert f'<span class="label">{label}</span><strong>{value}</strong>' in html
    for key in ("visits", "turnover", "check", "points", "liability", "wallets"):
        assert f'id="chart-{key}"' in html
    assert 'value="2026-03-11"' in html and 'value="2026-04-10"' in html


def test_the_days_table_is_the_stats_day_by_day_and_the_summary_its_totals(
        app: Flask, session: Session, history: History) -> None:
    client = _owner(app, session, history)
    program = _program(session, history)
    days = daily_figures(session, program=program, start=START, end=END, location_id=None)
    session.rollback()
    rows = _csv(client, history, "days")
    assert rows[0][:4] == ["day", "enrolments", "purchases", "turnover (UAH)"]
    assert len(rows) == 1 + len(days) == 32
    for row, day in zip(rows[1:], days, strict=True):
        assert row[0] == day.day.isoformat()
        assert [int(row[1]), int(row[2])] == [day.enrollments, day.purchases]
        assert round(float(row[3]) * 100) == day.turnover
        assert int(row[5]) == day.points_issued and int(row[6]) == day.points_redeemed
    summary = dict(_csv(client, history, "summary")[1:])
    figures = _stats(session, history)
    assert int(summary["purchases"]) == figures.purchases
    assert int(summary["points outstanding"]) == figures.points_outstanding
    assert float(summary["reward cost share"]) == pytest.approx(figures.reward_cost_share,
                                                                rel=1e-5)
    tiers = {name: int(count) for name, count in _csv(client, history, "tiers")[1:]}
    assert tiers == figures.tiers


def test_one_location_reads_only_what_happened_there(
        app: Flask, session: Session, history: History) -> None:
    client = _owner(app, session, history)
    here = history.locations[1]
    figures = _stats(session, history, here)
    summary = dict(_csv(client, history, "summary", location=here)[1:])
    assert int(summary["purchases"]) == figures.purchases
    assert f'<option value="{here}" selected>' in _page(client, history, location=here
                                                        ).get_data(as_text=True)


def test_a_member_limited_to_a_location_reads_its_figures_and_no_other(
        app: Flask, session: Session, history: History) -> None:
    mine, other = history.locations
    client = _owner(app, session, history, role="analyst", locations=(mine,))
    figures = _stats(session, history, mine)
    summary = dict(_csv(client, history, "summary")[1:])
    assert int(summary["purchases"]) == figures.purchases
    assert _page(client, history, location=other).status_code == 403
    assert _page(client, history, location=999_999).status_code == 404


def test_cashiers_and_other_merchants_get_no_figures(
        app: Flask, session: Session, history: History, client: FlaskClient) -> None:
    cashier = _owner(app, session, history, role="cashier")
    assert _page(cashier, history).status_code == 403
    from tests.dashboard_helpers import merchant_with_owner

    stranger = merchant_with_owner(session, "Other Bar")
    outsider = signed_in(app, stranger.owner_email)
    assert _page(outsider, history).status_code == 404
    assert outsider.get(f"/dashboard/programs/{history.program_id}/analytics/days.csv"
                        ).status_code == 404


BAD_PERIODS = ({"from": "2026-04-10", "to": "2026-03-01"}, {"from": "yesterday"},
               {"from": "2020-01-01", "to": "2026-01-01"}, {"to": "9999-99-99"})


def test_a_period_that_cannot_be_used_keeps_the_page_and_says_why(
        app: Flask, session: Session, history: History) -> None:
    client = _owner(app, session, history)
    for query in BAD_PERIODS:
        response = client.get(f"/dashboard/programs/{history.program_id}/analytics",
                              query_string={"lang": "en", **query})
        assert response.status_code == 422, query
        assert "These dates cannot be used" in response.get_data(as_text=True)
    assert client.get(f"/dashboard/programs/{history.program_id}/analytics/nope.csv",
                      query_string=PERIOD).status_code == 404


def test_the_budget_line_says_whether_rewards_cost_more_than_the_budget(
        app: Flask, session: Session, history: History) -> None:
    client = _owner(app, session, history)
    program = _program(session, history)
    share = _stats(session, history).reward_cost_share
    assert share is not None
    session.execute(update(Program).where(Program.id == program.id)
                    .values(reward_budget_percent=share * 100 + 0.5))
    session.commit()
    assert "within the budget" in _page(client, history).get_data(as_text=True)
    session.execute(update(Program).where(Program.id == program.id)
                    .values(reward_budget_percent=max(share * 100 - 0.5, 0)))
    session.commit()
    html = _page(client, history).get_data(as_text=True)
    assert "over the budget" in html and 'class="card budget over"' in html


def test_the_home_warns_of_a_program_over_its_budget_in_the_last_30_days(
        app: Flask, session: Session, api: Api, program: dict[str, Any]) -> None:
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    bought = api.post("/api/v1/pos/purchases", {"barcode": card["number"], "amount": 100_000},
                      headers={"Idempotency-Key": "one"})
    assert bought.get_json()["earned"] == 20  # 2 % of 1,000 UAH: 20 points worth 1 UAH each
    merchant_id = session.get(Program, program["id"]).merchant_id  # type: ignore[union-attr]
    member(session, merchant_id, "owner", "boss@kava.example")
    member(session, merchant_id, "cashier", "till@kava.example")
    owner = signed_in(app, "boss@kava.example")
    assert "over the budget" not in owner.get("/dashboard/?lang=en").get_data(as_text=True)
    api.patch(f"/api/v1/programs/{program['id']}", {"reward_budget_percent": 1.5})
    html = owner.get("/dashboard/?lang=en").get_data(as_text=True)
    assert ("Rewards cost 2.0\u00a0% of turnover in the last 30 days: over the budget of "
            "1.5\u00a0%.") in html
    till = signed_in(app, "till@kava.example")
    assert "over the budget" not in till.get("/dashboard/?lang=en").get_data(as_text=True)
