"""RFM segments on a generated history: every card's three scores and its segment equal a
direct computation from the purchases in the test; offers reach exactly a segment's cards;
computing again changes nothing; the worker computes daily and the API on demand. On
SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import app.analytics.segments as segments_module
from app.analytics.models import CardSegment, SegmentRefresh
from app.analytics.segments import refresh_due, refresh_segments, segment_counts
from app.cards.models import Card
from app.clock import utcnow
from app.delivery.housekeeping import Housekeeping
from app.ledger.models import Purchase
from app.offers.models import CardOffer
from app.points.postings import program_rules, refresh_figures, spend_figures
from tests.conftest import Api, count_rows, new_merchant

# The grid as the README states it, written out whole: rows R = 5 … 1, columns FM = 1 … 5.
GRID_BY_HAND = {
    5: ["new", "promising", "loyal", "champions", "champions"],
    4: ["new", "promising", "loyal", "champions", "champions"],
    3: ["promising", "promising", "loyal", "loyal", "loyal"],
    2: ["hibernating", "hibernating", "at_risk", "at_risk", "at_risk"],
    1: ["lost", "lost", "at_risk", "cant_lose", "cant_lose"],
}
CARDS = 36


def _buy(api: Api, card: dict[str, Any], amount: int, location_id: int | None = None) -> int:
    body: dict[str, Any] = {"barcode": card["number"], "amount": amount}
    if location_id is not None:
        body["location_id"] = location_id
    response = api.post("/api/v1/pos/purchases", body,
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.get_json()
    purchase_id: int = response.get_json()["id"]
    return purchase_id


def _history(api: Api, session: Session, program: dict[str, Any], seed: int = 14
             ) -> list[dict[str, Any]]:
    """Cards with 0 to 5 purchases each, amounts and days drawn from small sets (so that
    values tie), some refunded, moved back in time; the cards' caches then derived from
    their purchases as the ledger derives them."""
    rng = random.Random(seed)
    location = api.post(f"/api/v1/programs/{program['id']}/locations",
                        {"name": "Podil"}).get_json()
    cards, moved = [], {}
    for index in range(CARDS):
        at = location["id"] if index % 3 == 0 else None
        body: dict[str, Any] = {"name": f"Customer {index}", "email": f"c{index}@example.com",
                                "marketing_consent": True}
        if at is not None:
            body["location_id"] = at
        card = api.post(f"/api/v1/programs/{program['id']}/cards", body).get_json()
        cards.append(card)
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 5])):
            purchase_id = _buy(api, card, rng.choice([5_000, 12_000, 12_000, 30_000]))
            if rng.random() < 0.15:
                refund = api.post(f"/api/v1/pos/purchases/{purchase_id}/refund",
                                  {"amount": 2_000},
                                  headers={"Idempotency-Key": uuid.uuid4().hex})
                assert refund.status_code == 201, refund.get_json()
            days_ago = rng.choice([1, 3, 3, 10, 40, 40, 90, 200])
            moved[purchase_id] = utcnow() - timedelta(days=days_ago,
                                                      minutes=rng.randrange(600))
    for purchase_id, moment in moved.items():
        session.execute(update(Purchase).where(Purchase.id == purchase_id).values(
            created_at=moment))
    for card_row in session.scalars(select(Card).where(Card.program_id == program["id"])):
        refresh_figures(card_row, program_rules(card_row.program),
                        spend_figures(session, card_row.id, utcnow()))
    blocked = session.get(Card, cards[1]["id"])
    assert blocked is not None
    blocked.status = "blocked"
    session.commit()
    return cards


def _expected(session: Session, program_id: int) -> dict[int, tuple[int, int, int, str]]:
    """Scores and segments computed here from the purchases themselves."""
    session.rollback()
    bought: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for purchase in session.scalars(select(Purchase).join(Card, Card.id == Purchase.card_id)
                                    .where(Card.program_id == program_id,
                                           Card.status == "active")):
        bought[purchase.card_id].append(
            (purchase.created_at, purchase.amount_paid - purchase.refunded_paid))
    session.rollback()
    recency = {card: max(moment for moment, _ in rows).date() for card, rows in bought.items()}
    frequency = {card: len(rows) for card, rows in bought.items()}
    money = {card: sum(paid for _, paid in rows) for card, rows in bought.items()}

    def quintile(values: dict[int, Any], card: int) -> int:
        below = sum(1 for other in values.values() if other < values[card])
        return 1 + 5 * below // len(values)

    expected = {}
    for card in bought:
        r, f, m = quintile(recency, card), quintile(frequency, card), quintile(money, card)
        expected[card] = (r, f, m, GRID_BY_HAND[r][(f + m + 1) // 2 - 1])
    return expected


def _stored(session: Session, program_id: int) -> dict[int, tuple[int, int, int, str]]:
    session.rollback()
    rows = session.scalars(select(CardSegment).where(CardSegment.program_id == program_id))
    stored = {row.card_id: (row.recency, row.frequency, row.monetary, row.segment)
              for row in rows}
    session.rollback()
    return stored


@pytest.fixture
def history(api: Api, session: Session, program: dict[str, Any]) -> list[dict[str, Any]]:
    return _history(api, session, program)


def test_every_cards_scores_and_segment_equal_a_direct_computation_from_its_purchases(
        session: Session, program: dict[str, Any], history: list[dict[str, Any]]) -> None:
    done = refresh_segments(session, program_id=program["id"])
    expected = _expected(session, program["id"])
    assert done.ran and done.cards == len(expected) > 20
    assert _stored(session, program["id"]) == expected
    # The history is varied enough to mean something: ties, and several segments.
    assert len({segment for *_, segment in expected.values()}) >= 4
    assert history[1]["id"] not in expected  # blocked: not scored


def test_computing_again_on_the_same_data_writes_the_same_rows(
        session: Session, program: dict[str, Any], history: list[dict[str, Any]]) -> None:
    refresh_segments(session, program_id=program["id"])
    first = _stored(session, program["id"])
    again = refresh_segments(session, program_id=program["id"])
    assert _stored(session, program["id"]) == first and again.cards == len(first)
    assert count_rows(session, CardSegment) == len(first)


def test_counts_name_every_segment_and_a_location_counts_the_cards_that_joined_there(
        session: Session, program: dict[str, Any], history: list[dict[str, Any]]) -> None:
    refresh_segments(session, program_id=program["id"])
    expected = _expected(session, program["id"])
    counts = segment_counts(session, program_id=program["id"])
    assert set(counts) == {name for row in GRID_BY_HAND.values() for name in row}
    assert sum(counts.values()) == len(expected)
    for name, count in counts.items():
        assert count == sum(1 for *_, segment in expected.values() if segment == name)
    location_id = history[0]["location_id"]
    there = {card["id"] for card in history if card["location_id"] == location_id}
    at_location = segment_counts(session, program_id=program["id"], location_id=location_id)
    assert sum(at_location.values()) == len(there & set(expected)) > 0


def test_an_offer_for_a_segment_reaches_exactly_that_segments_cards(
        api: Api, session: Session, program: dict[str, Any],
        history: list[dict[str, Any]]) -> None:
    refresh_segments(session, program_id=program["id"])
    expected = _expected(session, program["id"])
    wanted = {"champions", "lost"}
    targets = {card for card, (*_, segment) in expected.items() if segment in wanted}
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": "For our best and our lost", "audience": {"segments": sorted(wanted)}})
    assert offer.status_code == 201, offer.get_json()
    published = api.post(f"/api/v1/offers/{offer.get_json()['id']}/publish")
    assert published.status_code == 202 and published.get_json()["cards"] == len(targets) > 0
    session.rollback()
    reached = set(session.scalars(select(CardOffer.card_id).where(
        CardOffer.offer_id == offer.get_json()["id"])))
    session.rollback()
    assert reached == targets


def test_an_unknown_segment_is_422_naming_the_segments_and_no_offer_is_made(
        api: Api, program: dict[str, Any]) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/offers",
                        {"title": "Hi", "audience": {"segments": ["loyal", "whales"]}})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "unknown_segment" and "'whales'" in problem["detail"]
    assert "champions" in problem["detail"]
    assert api.get(f"/api/v1/programs/{program['id']}/offers").get_json()["offers"] == []


def test_a_manager_refreshes_by_the_api_and_the_card_shows_its_segment(
        api: Api, session: Session, program: dict[str, Any],
        history: list[dict[str, Any]]) -> None:
    manager = _key(api, "manager")
    response = manager.post(f"/api/v1/programs/{program['id']}/segments/refresh")
    assert response.status_code == 200, response.get_json()
    expected = _expected(session, program["id"])
    assert response.get_json()["cards"] == len(expected)
    card_id = next(iter(expected))
    shown = api.get(f"/api/v1/cards/{card_id}").get_json()["segment"]
    r, f, m, segment = expected[card_id]
    assert (shown["recency"], shown["frequency"], shown["monetary"], shown["name"]) == (
        r, f, m, segment)
    never = next(card["id"] for card in history if card["id"] not in expected)
    assert api.get(f"/api/v1/cards/{never}").get_json()["segment"] is None
    found = api.get(f"/api/v1/programs/{program['id']}/cards?limit=100").get_json()["cards"]
    assert {card["id"]: card["segment"] and card["segment"]["name"] for card in found} == {
        card["id"]: expected[card["id"]][3] if card["id"] in expected else None
        for card in history}


def _key(api: Api, role: str) -> Api:
    created = api.post("/api/v1/api-keys", {"role": role, "name": role})
    assert created.status_code == 201, created.get_json()
    return Api(api.client, created.get_json()["api_key"])


@pytest.mark.parametrize("role", ["analyst", "cashier"])
def test_analysts_and_cashiers_may_not_refresh_and_nothing_is_computed(
        api: Api, session: Session, program: dict[str, Any], role: str) -> None:
    response = _key(api, role).post(f"/api/v1/programs/{program['id']}/segments/refresh")
    assert response.status_code == 403 and response.get_json()["code"] == "role_forbidden"
    assert count_rows(session, SegmentRefresh) == 0


def test_another_merchants_program_is_404_and_nothing_is_computed(
        api: Api, session: Session, program: dict[str, Any]) -> None:
    other = new_merchant(api.client, session, "Other Cafe")
    response = other.post(f"/api/v1/programs/{program['id']}/segments/refresh")
    assert response.status_code == 404
    assert count_rows(session, SegmentRefresh) == 0


def test_the_worker_computes_segments_once_a_day(
        session: Session, program: dict[str, Any], history: list[dict[str, Any]],
        app: Any) -> None:
    Housekeeping(app.extensions["loyalpass"].sessions, name="test").run_once()
    expected = _expected(session, program["id"])
    assert _stored(session, program["id"]) == expected
    session.rollback()
    first = session.scalar(select(SegmentRefresh.refreshed_at))
    session.rollback()
    assert first is not None
    # Within the day: nothing is due; a day later it is computed again.
    assert not any(done.ran for done in refresh_due(session, now=first + timedelta(hours=23)))
    later = first + timedelta(days=1)
    assert [done.ran for done in refresh_due(session, now=later)] == [True]
    session.rollback()
    assert session.scalar(select(SegmentRefresh.refreshed_at)) == later
    session.rollback()


def test_a_program_without_purchases_has_no_segments_and_counts_zero(
        session: Session, program: dict[str, Any], card: dict[str, Any]) -> None:
    done = refresh_segments(session, program_id=program["id"], now=datetime(2026, 12, 1))
    assert done.cards == 0
    assert set(segment_counts(session, program_id=program["id"]).values()) == {0}



def test_a_large_programs_segments_asked_for_are_computed_by_the_worker_not_the_request(
        api: Api, session: Session, program: dict[str, Any], history: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A program above ``COMPUTE_NOW_CARDS`` answers 202 at once with what was last
    computed, nothing computed yet; the worker's next round computes it, though its daily
    computation was not due."""
    monkeypatch.setattr(segments_module, "COMPUTE_NOW_CARDS", len(history) - 1)
    first = api.post(f"/api/v1/programs/{program['id']}/segments/refresh")
    assert first.status_code == 202 and first.get_json()["queued"] is True
    assert first.get_json()["refreshed_at"] is None and count_rows(session, CardSegment) == 0
    done = [each for each in refresh_due(session) if each.program_id == program["id"]]
    assert done and done[0].ran and done[0].cards == len(_expected(session, program["id"]))
    again = refresh_due(session)  # asked for once: computed once
    assert not any(each.ran for each in again)
    asked = api.post(f"/api/v1/programs/{program['id']}/segments/refresh")
    assert asked.status_code == 202
    assert asked.get_json()["cards"] == done[0].cards
    assert [each.ran for each in refresh_due(session)
            if each.program_id == program["id"]] == [True]


def test_the_dashboard_says_a_large_programs_segments_are_on_their_way(
        app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.dashboard_helpers import csrf_of, merchant_with_owner, signed_in

    owner = merchant_with_owner(session)
    api = Api(app.test_client(), owner.api_key)
    program = api.post("/api/v1/programs", {"name": "Kava", "currency": "UAH",
                                            "earn_percent": 2}).get_json()
    api.post(f"/api/v1/programs/{program['id']}/cards", {"name": "Olena", "email": "o@e.com"})
    monkeypatch.setattr(segments_module, "COMPUTE_NOW_CARDS", 0)
    client = signed_in(app, owner.owner_email)
    page = f"/dashboard/programs/{program['id']}/segments"
    answer = client.post(f"{page}/refresh", data={"csrf": csrf_of(client, page)},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "appear here within a few minutes" in text
    assert "computed again just now" not in text
    assert count_rows(session, SegmentRefresh) == 1 and count_rows(session, CardSegment) == 0
