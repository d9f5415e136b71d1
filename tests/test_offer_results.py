"""An offer's measured effect: the treated and control groups' visits, purchases, spend
and redemptions per customer before and during each card's window, and the difference
in differences with Welch's t-test, equal to a direct computation over generated data."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from scipy import stats
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from app.ledger.models import LedgerEntry, Purchase
from app.merchants.service import create_api_key
from app.offers.models import CardOffer, Offer
from tests.conftest import Api, new_merchant

BASE = datetime(2026, 3, 2, 9, 0)
LENGTH = timedelta(days=7)
CARDS = 90
EFFECT = 40_000  # the treated group's extra spend per customer in a known-effect offer


@dataclass
class History:
    """What the test generated, to compute every figure directly."""

    offer_id: int
    starts: dict[int, datetime] = field(default_factory=dict)
    held_out: dict[int, bool] = field(default_factory=dict)
    purchases: list[tuple[int, datetime, int]] = field(default_factory=list)  # net spend
    redemptions: list[tuple[int, datetime]] = field(default_factory=list)


def enroll_many(api: Api, program: dict[str, Any], how_many: int) -> list[int]:
    ids = []
    for number in range(how_many):
        response = api.post(f"/api/v1/programs/{program['id']}/cards",
                            {"name": f"Guest {number}", "email": f"g{number}@example.com",
                             "marketing_consent": True})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def published_offer(api: Api, program: dict[str, Any], holdout: int = 50) -> int:
    offer = api.post(f"/api/v1/programs/{program['id']}/offers",
                     {"title": "Coffee week", "audience": {"holdout_percent": holdout}})
    assert offer.status_code == 201, offer.get_json()
    published = api.post(f"/api/v1/offers/{offer.get_json()['id']}/publish")
    assert published.status_code == 202, published.get_json()
    offer_id: int = offer.get_json()["id"]
    return offer_id


def generate(session: Session, api: Api, program: dict[str, Any], *, seed: int,
             effect: int) -> History:
    """Cards with purchases and redemptions around their windows; the offer's window is
    moved into the past, a third of the cards reached two days late (as automatic
    offers reach cards)."""
    card_ids = enroll_many(api, program, CARDS)
    offer_id = published_offer(api, program)
    merchant_id = session.get(Offer, offer_id).merchant_id  # type: ignore[union-attr]
    session.execute(update(Offer).where(Offer.id == offer_id)
                    .values(starts_at=BASE, ends_at=BASE + LENGTH))
    history = History(offer_id)
    rng = random.Random(seed)
    for card_id in card_ids:
        start = BASE + timedelta(days=2) if card_id % 3 == 0 else BASE
        history.starts[card_id] = start
        session.execute(update(CardOffer).where(CardOffer.offer_id == offer_id,
                                                CardOffer.card_id == card_id)
                        .values(created_at=start))
    for row in session.execute(CardOffer.__table__.select()
                               .where(CardOffer.offer_id == offer_id)):
        history.held_out[row.card_id] = bool(row.held_out)
    rows, entries = [], []
    for card_id in card_ids:
        start = history.starts[card_id]
        for sign in (-1, 1):  # before, during
            for _ in range(rng.randint(0, 4)):
                # Whole seconds at least one second from either end of the span.
                offset = timedelta(seconds=rng.randint(1, int(LENGTH.total_seconds()) - 1))
                at = start + offset if sign > 0 else start - offset
                amount, refunded = rng.randint(3_000, 20_000), rng.choice([0, 0, 0, 1_000])
                rows.append(_purchase(merchant_id, program, card_id, at, amount, refunded))
                history.purchases.append((card_id, at, amount - refunded))
                if rng.random() < 0.3:
                    entries.append(_redeem(merchant_id, card_id, at))
                    history.redemptions.append((card_id, at))
        if effect and not history.held_out[card_id]:
            at = start + timedelta(hours=30)
            rows.append(_purchase(merchant_id, program, card_id, at, effect, 0))
            history.purchases.append((card_id, at, effect))
        # The very start of the window counts as during; a month before as neither.
        for at in (start, start - timedelta(days=30)):
            rows.append(_purchase(merchant_id, program, card_id, at, 5_000, 0))
            history.purchases.append((card_id, at, 5_000))
    session.execute(insert(Purchase), rows)
    session.execute(insert(LedgerEntry), entries)
    session.commit()
    return history


def _purchase(merchant_id: int, program: dict[str, Any], card_id: int, at: datetime, amount: int,
              refunded: int) -> dict[str, Any]:
    return {"merchant_id": merchant_id, "program_id": program["id"],
            "card_id": card_id, "amount": amount, "amount_paid": amount, "earn_percent": 2,
            "refunded_amount": refunded, "refunded_paid": refunded, "created_at": at}


def _redeem(merchant_id: int, card_id: int, at: datetime) -> dict[str, Any]:
    return {"merchant_id": merchant_id, "card_id": card_id, "kind": "redeem",
            "points": -10, "created_at": at}


def direct(history: History) -> dict[str, dict[int, dict[str, float]]]:
    """Per card, each metric's change (during − before), and the period sums."""
    figures: dict[str, dict[int, dict[str, float]]] = {"before": {}, "during": {}}
    for card_id, start in history.starts.items():
        for period in figures:
            low, high = ((start - LENGTH, start) if period == "before"
                         else (start, start + LENGTH))
            bought = [(at, spend) for card, at, spend in history.purchases
                      if card == card_id and low <= at < high]
            figures[period][card_id] = {
                "visits": len({at.date() for at, _ in bought}), "purchases": len(bought),
                "spend": sum(spend for _, spend in bought),
                "redemptions": sum(1 for card, at in history.redemptions
                                   if card == card_id and low <= at < high)}
    return figures


def check_against_direct(history: History, answer: dict[str, Any]) -> None:
    figures = direct(history)
    groups = {"treated": [c for c, held in history.held_out.items() if not held],
              "control": [c for c, held in history.held_out.items() if held]}
    for name, cards in groups.items():
        assert answer[name]["customers"] == len(cards)
        for period in ("before", "during"):
            for metric in ("visits", "purchases", "spend", "redemptions"):
                expected = statistics.fmean(figures[period][c][metric] for c in cards)
                assert answer[name][period][metric] == pytest.approx(expected, abs=1e-3)
    for metric in ("visits", "purchases", "spend", "redemptions"):
        changes = {name: [figures["during"][c][metric] - figures["before"][c][metric]
                          for c in cards] for name, cards in groups.items()}
        test = stats.ttest_ind(changes["treated"], changes["control"], equal_var=False)
        found = answer["difference"][metric]
        assert found["estimate"] == pytest.approx(
            statistics.fmean(changes["treated"]) - statistics.fmean(changes["control"]),
            abs=1e-3)
        assert found["p_value"] == pytest.approx(float(test.pvalue), rel=1e-6, abs=1e-12)
        low, high = test.confidence_interval(0.95)
        assert (found["ci_low"], found["ci_high"]) == (pytest.approx(low, abs=1e-3),
                                                       pytest.approx(high, abs=1e-3))
        assert found["significant"] is bool(test.pvalue < 0.05)


def test_an_offer_with_a_known_effect_is_reported_significant_with_its_sign_and_size(
        api: Api, program: dict[str, Any], session: Session) -> None:
    history = generate(session, api, program, seed=14, effect=EFFECT)
    answer = api.get(f"/api/v1/offers/{history.offer_id}/results").get_json()
    assert set(answer) == {"treated", "control", "difference", "significant"}
    check_against_direct(history, answer)
    spend = answer["difference"]["spend"]
    assert answer["difference"]["primary_metric"] == "spend"
    assert answer["significant"] is True and spend["significant"] is True
    assert spend["ci_low"] > 0 and spend["ci_low"] < EFFECT < spend["ci_high"]
    assert 0.6 * EFFECT < spend["estimate"] < 1.4 * EFFECT


def test_an_offer_without_an_effect_is_reported_not_significant(
        api: Api, program: dict[str, Any], session: Session) -> None:
    history = generate(session, api, program, seed=15, effect=0)
    answer = api.get(f"/api/v1/offers/{history.offer_id}/results").get_json()
    check_against_direct(history, answer)
    assert answer["significant"] is False
    assert answer["difference"]["spend"]["ci_low"] < 0 < answer["difference"]["spend"]["ci_high"]


def test_a_draft_has_empty_groups_and_no_interval(api: Api, program: dict[str, Any]) -> None:
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "Later"}).get_json()
    answer = api.get(f"/api/v1/offers/{offer['id']}/results").get_json()
    assert answer["treated"]["customers"] == answer["control"]["customers"] == 0
    assert answer["difference"]["spend"]["p_value"] is None
    assert answer["significant"] is False


def test_another_merchants_offer_results_are_404_and_a_cashier_is_refused(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "Mine"}).get_json()
    other = new_merchant(client, session, "Other Cafe")
    response = other.get(f"/api/v1/offers/{offer['id']}/results")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    merchant_id = session.get(Offer, offer["id"]).merchant_id  # type: ignore[union-attr]
    cashier = Api(client, create_api_key(session, merchant_id=merchant_id, role="cashier"))
    assert cashier.get(f"/api/v1/offers/{offer['id']}/results").status_code == 403
    analyst = Api(client, create_api_key(session, merchant_id=merchant_id, role="analyst"))
    assert analyst.get(f"/api/v1/offers/{offer['id']}/results").status_code == 200
