"""Program rules as a merchant combines them: stamps and rewards, trigger bonuses,
points expiry oldest-first, and tiers that lapse after twelve months."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.ledger.maintenance import expire_points, refresh_tiers
from app.ledger.models import LedgerEntry, Purchase
from tests.conftest import Api
from tests.test_pos_api import buy, ledger_sum


def _program(api: Api, **rules: Any) -> dict[str, Any]:
    program = api.post("/api/v1/programs", {"name": "Rules", "currency": "UAH", **rules})
    assert program.status_code == 201, program.get_json()
    body: dict[str, Any] = program.get_json()
    card = api.post(f"/api/v1/programs/{body['id']}/cards",
                    {"name": "Ira", "email": "ira@example.com"}).get_json()
    return {"program": body, "card": card}


def _card(api: Api, card_id: int) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/cards/{card_id}").get_json()
    return body


def test_a_stamps_program_turns_every_fifth_stamp_into_a_reward(api: Api) -> None:
    shop = _program(api, kind="stamps", stamps_required=5, reward_text="a free coffee",
                    stamp_min_amount=3_000)
    assert buy(api, shop["card"], 2_000).get_json()["stamps_added"] == 0  # under 30.00
    for expected in (1, 2, 3, 4):
        assert buy(api, shop["card"], 4_500).get_json()["stamps"] == expected
    fifth = buy(api, shop["card"], 4_500).get_json()
    assert fifth["stamps"] == 0 and fifth["rewards"] == 1
    free = buy(api, shop["card"], 4_500, redeem_rewards=1).get_json()
    assert free["rewards_redeemed"] == 1 and free["rewards"] == 0 and free["stamps"] == 1
    again = buy(api, shop["card"], 4_500, redeem_rewards=1)
    assert again.status_code == 409 and again.get_json()["code"] == "insufficient_rewards"


def test_a_stamps_program_refuses_point_redemption(api: Api) -> None:
    shop = _program(api, kind="stamps", stamps_required=5)
    response = buy(api, shop["card"], 4_500, redeem=1)
    assert response.status_code == 409


def test_every_nth_visit_and_big_purchases_earn_their_bonus(api: Api) -> None:
    shop = _program(api, earn_percent=0, triggers=[
        {"kind": "nth_visit", "every": 3, "points": 30},
        {"kind": "min_amount", "amount": 100_000, "points": 25},
    ])
    bonuses = [buy(api, shop["card"], amount).get_json()["bonus"]
               for amount in (1_000, 1_000, 1_000, 150_000, 1_000, 1_000)]
    assert bonuses == [0, 0, 30, 25, 0, 30]
    assert _card(api, shop["card"]["id"])["balance"] == 30 + 25 + 30


def test_trigger_rules_are_validated_when_saved(api: Api) -> None:
    response = api.post("/api/v1/programs", {"name": "Bad", "triggers": [
        {"kind": "nth_visit", "points": 10}]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"].startswith("triggers.0")


def _age_entries(session: Session, card_id: int, days: int) -> None:
    session.execute(update(LedgerEntry).where(LedgerEntry.card_id == card_id)
                    .values(created_at=utcnow() - timedelta(days=days)))
    session.execute(update(Purchase).where(Purchase.card_id == card_id)
                    .values(created_at=utcnow() - timedelta(days=days)))
    session.commit()


def test_points_expire_oldest_first_and_a_second_run_expires_nothing(
    api: Api, session: Session
) -> None:
    shop = _program(api, earn_percent=10, welcome_points=50, points_expire_days=180)
    card_id = shop["card"]["id"]
    buy(api, shop["card"], 10_000, redeem=30)  # spends 30 of the 50 welcome points, earns 7
    _age_entries(session, card_id, days=200)
    buy(api, shop["card"], 10_000)  # 10 fresh points
    assert _card(api, card_id)["balance"] == 50 - 30 + 7 + 10
    report = expire_points(session)
    assert (report.cards, report.points) == (1, 20 + 7)  # what is left of the old credits
    assert _card(api, card_id)["balance"] == 10
    assert expire_points(session).points == 0
    assert ledger_sum(session, card_id) == 10


def test_a_program_without_expiry_keeps_old_points(api: Api, session: Session) -> None:
    shop = _program(api, welcome_points=50)
    _age_entries(session, shop["card"]["id"], days=2000)
    assert expire_points(session).points == 0
    assert _card(api, shop["card"]["id"])["balance"] == 50


def test_a_tier_lapses_when_its_spend_is_more_than_a_year_old(
    api: Api, session: Session
) -> None:
    shop = _program(api, earn_percent=1, tiers=[
        {"name": "Silver", "min_spend": 0, "earn_percent": 1},
        {"name": "Gold", "min_spend": 100_000, "earn_percent": 3}])
    assert buy(api, shop["card"], 100_000).get_json()["tier"] == "Gold"
    assert refresh_tiers(session).cards == 0
    _age_entries(session, shop["card"]["id"], days=400)
    assert refresh_tiers(session).cards == 1
    assert _card(api, shop["card"]["id"])["tier"] == "Silver"


def test_the_expiry_command_runs_from_the_command_line(tmp_path: Any) -> None:
    env = {"LOYALPASS_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "PATH": "/usr/bin"}
    upgrade = subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env,
                             capture_output=True, text=True, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    result = subprocess.run([sys.executable, "-m", "app.cli", "ledger", "expire"], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Expired 0 points on 0 cards." in result.stdout
