"""Fraud patterns beyond the velocity limits, on SQLite and PostgreSQL: each raised by the
worker's detector on generated data that has it, with its evidence, once however often
the detector runs, and not on data that does not have it. The data is made the way a
till and a join form make it (the POS API, the join form's page).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import utcnow
from app.delivery.housekeeping import Housekeeping
from app.delivery.workers import make_workers
from app.ledger.fraud_cards import densest_window
from app.ledger.fraud_detector import SETTLE, Detected, detect_fraud
from app.ledger.fraud_patterns import binomial_tail
from app.ledger.models import Alert, LedgerEntry, Purchase
from tests.conftest import Api

LATER = SETTLE + timedelta(minutes=1)  # every row the test made is settled by then


def _detect(session: Session) -> Detected:
    session.rollback()
    return detect_fraud(session, now=utcnow() + LATER)


def _alerts(session: Session) -> list[Alert]:
    """Every alert as it stands, detached: reading one later opens no transaction."""
    session.rollback()
    try:
        found = list(session.scalars(select(Alert).order_by(Alert.id)))
        session.expunge_all()
        return found
    finally:
        session.rollback()


def _cashier(owner: Api, name: str) -> tuple[Api, int]:
    issued = owner.post("/api/v1/api-keys", {"role": "cashier", "name": name})
    assert issued.status_code == 201, issued.get_json()
    keys = owner.get("/api/v1/api-keys").get_json()["api_keys"]
    return (Api(owner.client, issued.get_json()["api_key"]),
            next(key["id"] for key in keys if key["name"] == name))


def _program(owner: Api, **fields: Any) -> dict[str, Any]:
    created = owner.post("/api/v1/programs", {"name": "Kava", "currency": "UAH",
                                              "earn_percent": 10, **fields})
    assert created.status_code == 201, created.get_json()
    body: dict[str, Any] = created.get_json()
    return body


def _card(owner: Api, program: dict[str, Any], email: str) -> dict[str, Any]:
    made = owner.post(f"/api/v1/programs/{program['id']}/cards", {"name": "C", "email": email})
    assert made.status_code == 201, made.get_json()
    body: dict[str, Any] = made.get_json()
    return body


def _buy(cashier: Api, card: dict[str, Any], amount: int, **fields: Any) -> int:
    made = cashier.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount, **fields},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert made.status_code == 201, made.get_json()
    purchase_id: int = made.get_json()["id"]
    return purchase_id


def _listed(alert: Alert) -> list[int]:
    assert alert.evidence is not None
    return [purchase["id"] for purchase in alert.evidence["purchases"]]


def test_the_binomial_tail_and_the_densest_window_are_exact() -> None:
    assert binomial_tail(22, 24) == (276 + 24 + 1) / 2 ** 24
    assert binomial_tail(0, 10) == 1.0 and binomial_tail(5, 10) == 638 / 1024
    now = utcnow()
    moments = [now, now + timedelta(minutes=50), now + timedelta(minutes=70),
               now + timedelta(minutes=80), now + timedelta(minutes=100)]
    assert densest_window(moments, timedelta(minutes=60)) == (1, 5)
    assert densest_window([], timedelta(minutes=60)) == (0, 0)


def test_one_cashier_scanning_one_card_five_times_a_day_raises_one_alert_listing_them(
    api: Api, session: Session
) -> None:
    program = _program(api)
    card = _card(api, program, "olena@example.com")
    till, till_id = _cashier(api, "Till 1")
    bought = [_buy(till, card, 1_000 + n) for n in range(5)]

    assert _detect(session).raised == 1
    [alert] = _alerts(session)
    assert (alert.kind, alert.card_id, alert.api_key_id, alert.program_id) == (
        "repeated_scans", card["id"], till_id, program["id"])
    assert _listed(alert) == bought and alert.evidence["threshold"] == 5
    shown = api.get("/api/v1/alerts").get_json()["alerts"]
    assert [item["evidence"]["purchases"][0]["id"] for item in shown] == [bought[0]]

    _buy(till, card, 2_000)  # a sixth the same day: the same finding, no new alert
    assert _detect(session).raised == 0 and _detect(session).raised == 0
    assert len(_alerts(session)) == 1


def test_two_cashiers_scanning_a_card_four_times_each_raise_nothing(
    api: Api, session: Session
) -> None:
    program = _program(api)
    card = _card(api, program, "olena@example.com")
    first, _ = _cashier(api, "Till 1")
    second, _ = _cashier(api, "Till 2")
    for n in range(4):
        _buy(first, card, 1_000 + n)
        _buy(second, card, 1_000 + n)
    assert _detect(session).raised == 0 and _alerts(session) == []


THRESHOLD = 50_000  # a bonus of 50 points from 500.00 UAH; the band is 5 %: 2 500


def test_a_cashier_whose_purchases_land_just_over_the_bonus_threshold_raises_one_alert(
    api: Api, session: Session
) -> None:
    program = _program(api, triggers=[{"kind": "min_amount", "amount": THRESHOLD,
                                       "points": 50}],
                       fraud={"same_card_scans_per_day": None})
    card = _card(api, program, "olena@example.com")
    bent, bent_id = _cashier(api, "Till 1")
    honest, _ = _cashier(api, "Till 2")
    over = [_buy(bent, card, THRESHOLD + 100 * n) for n in range(22)]
    for amount in (THRESHOLD - 1_000, THRESHOLD - 2_000, 120_000, 9_000):
        _buy(bent, card, amount)  # two under; two far from it, not counted
    for n in range(12):  # even: 12 just over, 12 just under
        _buy(honest, card, THRESHOLD + 200 * n)
        _buy(honest, card, THRESHOLD - 1 - 200 * n)

    assert _detect(session).raised == 1
    [alert] = _alerts(session)
    assert (alert.kind, alert.api_key_id, alert.card_id) == (
        "threshold_amounts", bent_id, None)
    assert alert.evidence is not None
    assert (alert.evidence["just_over"], alert.evidence["just_under"]) == (22, 2)
    assert alert.evidence["p_value"] == pytest.approx(binomial_tail(22, 24))
    assert sorted(_listed(alert)) == over
    _buy(bent, card, THRESHOLD + 7)  # still bent, the same week: no second alert
    assert _detect(session).raised == 0 and len(_alerts(session)) == 1


def test_without_a_bonus_threshold_or_with_the_test_off_nothing_is_raised(
    api: Api, session: Session
) -> None:
    program = _program(api, triggers=[{"kind": "min_amount", "amount": THRESHOLD,
                                       "points": 50}],
                       fraud={"same_card_scans_per_day": None,
                              "threshold_min_purchases": None})
    plain = _program(api, fraud={"same_card_scans_per_day": None})
    till, _ = _cashier(api, "Till 1")
    for each in (program, plain):
        card = _card(api, each, f"{each['id']}@example.com")
        for n in range(22):
            _buy(till, card, THRESHOLD + 100 * n)
    assert _detect(session).raised == 0 and _alerts(session) == []


def _locations(api: Api, program: dict[str, Any]) -> list[int]:
    return [api.post(f"/api/v1/programs/{program['id']}/locations",
                     {"name": name}).get_json()["id"] for name in ("Podil", "Obolon")]


def test_points_redeemed_at_another_location_soon_after_they_were_earned_raise_an_alert(
    api: Api, session: Session
) -> None:
    program = _program(api)
    podil, obolon = _locations(api, program)
    till, _ = _cashier(api, "Till")
    moved, stayed, waited = (_card(api, program, f"{name}@example.com")
                             for name in ("moved", "stayed", "waited"))
    earned = _buy(till, moved, 100_000, location_id=podil)  # 100 points
    redeemed = _buy(till, moved, 5_000, location_id=obolon, redeem_points=40)
    _buy(till, stayed, 100_000, location_id=podil)
    _buy(till, stayed, 5_000, location_id=podil, redeem_points=40)
    long_ago = _buy(till, waited, 100_000, location_id=podil)
    _buy(till, waited, 5_000, location_id=obolon, redeem_points=40)
    session.execute(update(LedgerEntry).where(LedgerEntry.purchase_id == long_ago)
                    .values(created_at=utcnow() - timedelta(hours=3)))
    session.commit()

    assert _detect(session).raised == 1
    [alert] = _alerts(session)
    assert (alert.kind, alert.card_id, alert.location_id) == (
        "redeem_elsewhere", moved["id"], obolon)
    assert _listed(alert) == [earned, redeemed]
    assert alert.evidence is not None and alert.evidence["redeemed"] == 40
    assert _detect(session).raised == 0


def _join(client: FlaskClient, slug: str, address: str, email: str) -> None:
    path = f"/join/{slug}"
    environ = {"REMOTE_ADDR": address}
    page = client.get(path, environ_base=environ)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    joined = client.post(path, data={"csrf": csrf.group(1), "name": "N", "email": email},
                         environ_base=environ)
    assert joined.status_code == 303, joined.text


def test_five_cards_joined_from_one_address_within_the_hour_raise_one_alert(
    api: Api, client: FlaskClient, session: Session
) -> None:
    program = _program(api)
    for n in range(5):
        _join(client, program["slug"], "203.0.113.7", f"burst{n}@example.com")
    for n in range(4):
        _join(client, program["slug"], "203.0.113.8", f"four{n}@example.com")
    _join(client, program["slug"], "198.51.100.1", "alone@example.com")
    _card(api, program, "merchant@example.com")  # enrolled by the merchant: no origin

    session.rollback()
    cards = list(session.scalars(select(Card)))
    origins = {card.customer.email: card.enrolled_from for card in cards}
    burst = sorted(card.number for card in cards
                   if card.customer.email and card.customer.email.startswith("burst"))
    session.rollback()
    assert origins["merchant@example.com"] is None
    assert len({origins[f"burst{n}@example.com"] for n in range(5)}) == 1
    assert origins["burst0@example.com"] != origins["four0@example.com"]
    assert all("203.0" not in (origin or "") for origin in origins.values())

    assert _detect(session).raised == 1
    [alert] = _alerts(session)
    assert alert.kind == "enrolment_burst" and alert.evidence is not None
    assert sorted(card["number"] for card in alert.evidence["cards"]) == burst
    _join(client, program["slug"], "203.0.113.7", "burst5@example.com")
    assert _detect(session).raised == 0 and len(_alerts(session)) == 1


def test_the_workers_housekeeping_runs_the_detector_over_settled_rows_only(
    app: Flask, api: Api, session: Session
) -> None:
    program = _program(api)
    card = _card(api, program, "olena@example.com")
    till, _ = _cashier(api, "Till 1")
    for n in range(5):
        _buy(till, card, 1_000 + n)
    [housekeeping] = [loop for loop in make_workers(app.extensions["loyalpass"])
                      if isinstance(loop, Housekeeping)]
    housekeeping.run_once()
    assert _alerts(session) == []  # written this instant: not settled yet
    session.execute(update(Purchase).values(created_at=utcnow() - LATER))
    session.commit()
    housekeeping.run_once()
    assert [alert.kind for alert in _alerts(session)] == ["repeated_scans"]


def test_a_programs_fraud_thresholds_default_and_a_bad_one_is_refused_and_nothing_changed(
    api: Api
) -> None:
    program = _program(api)
    assert program["fraud"] == {
        "same_card_scans_per_day": 5, "threshold_min_purchases": 20,
        "threshold_band_percent": 5, "threshold_days": 30, "redeem_elsewhere_minutes": 120,
        "enrolments_per_origin": 5, "enrolment_window_minutes": 60}
    path = f"/api/v1/programs/{program['id']}"
    for bad in ({"same_card_scans_per_day": 1}, {"threshold_days": None},
                {"enrolments_per_origin": True}, {"redeem_elsewhere_minutes": "60"},
                {"unknown": 3}, []):
        refused = api.patch(path, {"fraud": bad})
        assert refused.status_code == 422, bad
        assert refused.mimetype == "application/problem+json"
    assert api.get(path).get_json()["fraud"] == program["fraud"]
    changed = api.patch(path, {"fraud": {"same_card_scans_per_day": 3,
                                         "redeem_elsewhere_minutes": None}})
    assert changed.status_code == 200
    assert changed.get_json()["fraud"] == {**program["fraud"], "same_card_scans_per_day": 3,
                                           "redeem_elsewhere_minutes": None}
