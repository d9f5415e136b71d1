"""Offers that act at the till: bonus points, a multiplier of the earn rate and one-time
coupons, given only to the cards an offer was published to (not held out) while it runs,
written as ``bonus`` entries naming the offer and taken back in proportion on refund."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.ledger.models import LedgerEntry, Purchase
from app.offers.models import CardOffer, CouponRedemption, Offer
from tests.conftest import Api, count_rows, new_merchant
from tests.test_ledger_concurrency import WAIT, serving


def enroll(api: Api, program: dict[str, Any], email: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Guest", "email": email, "marketing_consent": True})
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


def buy(api: Api, card: dict[str, Any], amount: int, *, key: str | None = None,
        **fields: Any) -> Any:
    return api.post("/api/v1/pos/purchases",
                    {"barcode": card["barcode"]["message"], "amount": amount, **fields},
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def offer_with(api: Api, program: dict[str, Any], mechanic: dict[str, Any],
               **fields: Any) -> dict[str, Any]:
    """A published offer with the mechanic, running from an hour ago for a day."""
    now = datetime.now(UTC)
    response = api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": "Double points on Monday", "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(), "mechanic": mechanic, **fields})
    assert response.status_code == 201, response.get_json()
    offer: dict[str, Any] = response.get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202
    return offer


def offer_entries(session: Session, card_id: int) -> list[tuple[str, int, int | None]]:
    session.rollback()
    found = session.execute(select(LedgerEntry.kind, LedgerEntry.points, LedgerEntry.offer_id)
                            .where(LedgerEntry.card_id == card_id,
                                   LedgerEntry.offer_id.is_not(None))
                            .order_by(LedgerEntry.id)).all()
    session.rollback()
    return [(row.kind, row.points, row.offer_id) for row in found]


def move_window(session: Session, offer_id: int, starts: datetime, ends: datetime) -> None:
    session.rollback()
    session.execute(update(Offer).where(Offer.id == offer_id).values(
        starts_at=starts.replace(tzinfo=None), ends_at=ends.replace(tzinfo=None)))
    session.commit()


def balance(api: Api, card: dict[str, Any]) -> int:
    return int(api.get(f"/api/v1/cards/{card['id']}").get_json()["balance"])


def test_double_points_on_a_monday_window_offer_give_a_bonus_entry_naming_the_offer(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "multiplier", "factor": 2})
    assert offer["mechanic"] == {"type": "multiplier", "factor": 2}
    response = buy(api, card, 100_000)  # 1,000.00 UAH at 2 %: 20 points earned
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["earned"], response.get_json()["bonus"]) == (20, 20)
    assert offer_entries(session, card["id"]) == [("bonus", 20, offer["id"])]
    assert balance(api, card) == 40


def test_fixed_bonus_points_come_on_every_purchase_in_the_window(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "bonus_points", "points": 15})
    buy(api, card, 100_000)
    buy(api, card, 1_000)  # earns nothing itself, still gets the bonus
    assert offer_entries(session, card["id"]) == [("bonus", 15, offer["id"])] * 2
    assert balance(api, card) == 20 + 30


def test_a_held_out_card_and_one_the_offer_never_reached_get_no_bonus(
        api: Api, program: dict[str, Any], session: Session) -> None:
    cards = [enroll(api, program, f"guest{number}@example.com") for number in range(12)]
    offer = offer_with(api, program, {"type": "bonus_points", "points": 15},
                       audience={"holdout_percent": 50})
    session.rollback()
    held = {row.card_id for row in session.execute(select(CardOffer.card_id).where(
        CardOffer.offer_id == offer["id"], CardOffer.held_out.is_(True)))}
    session.rollback()
    assert held, "with 12 cards and half held out, some are"
    later = enroll(api, program, "late@example.com")  # joined after it was published
    for card in [*cards, later]:
        assert buy(api, card, 100_000).status_code == 201
    for card in [*cards, later]:
        given = offer_entries(session, card["id"])
        expected = [] if card["id"] in held or card is later else [("bonus", 15, offer["id"])]
        assert given == expected, card["id"]


def test_outside_its_window_an_offer_gives_nothing(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "multiplier", "factor": 2})
    now = datetime.now(UTC)
    move_window(session, offer["id"], now + timedelta(days=6), now + timedelta(days=7))
    response = buy(api, card, 100_000)  # before next Monday
    assert response.get_json()["bonus"] == 0
    move_window(session, offer["id"], now - timedelta(days=8), now - timedelta(days=7))
    response = buy(api, card, 100_000)  # after last Monday's
    assert response.get_json()["bonus"] == 0
    assert offer_entries(session, card["id"]) == []
    assert balance(api, card) == 40


def test_a_coupon_is_listed_at_lookup_applied_once_and_recorded(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "coupon", "points": 50,
                                      "text": "Free croissant"}, title="Croissant coupon")
    looked = api.post("/api/v1/pos/lookup", {"barcode": card["number"]}).get_json()
    assert looked["coupons"] == [{"id": offer["id"], "title": "Croissant coupon",
                                  "points": 50, "text": "Free croissant"}]
    plain = buy(api, card, 100_000)  # not named: the coupon waits
    assert plain.get_json()["bonus"] == 0
    used = buy(api, card, 100_000, coupon=offer["id"])
    assert used.status_code == 201 and used.get_json()["bonus"] == 50
    assert offer_entries(session, card["id"]) == [("bonus", 50, offer["id"])]
    session.rollback()
    redemption = session.scalars(select(CouponRedemption)).one()
    assert (redemption.offer_id, redemption.card_id, redemption.purchase_id) == (
        offer["id"], card["id"], used.get_json()["id"])
    session.rollback()
    assert api.post("/api/v1/pos/lookup", {"barcode": card["number"]}).get_json()[
        "coupons"] == []


def test_a_coupon_used_twice_is_409_and_nothing_changed(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "coupon", "points": 50})
    key = uuid.uuid4().hex
    first = buy(api, card, 100_000, key=key, coupon=offer["id"])
    assert first.status_code == 201
    replayed = buy(api, card, 100_000, key=key, coupon=offer["id"])
    assert replayed.status_code == 201 and replayed.headers["Idempotency-Replayed"] == "true"
    assert replayed.get_json() == first.get_json()
    before = (balance(api, card), count_rows(session, Purchase),
              count_rows(session, LedgerEntry), count_rows(session, CouponRedemption))
    again = buy(api, card, 100_000, coupon=offer["id"])
    assert again.status_code == 409 and again.get_json()["code"] == "coupon_used"
    other_body = buy(api, card, 100_000, key=key)  # the key with the coupon left out
    assert other_body.status_code == 409
    assert other_body.get_json()["code"] == "idempotency_key_reused"
    assert (balance(api, card), count_rows(session, Purchase),
            count_rows(session, LedgerEntry), count_rows(session, CouponRedemption)) == before


def test_a_coupon_that_is_not_the_cards_is_409_and_nothing_changed(
        api: Api, program: dict[str, Any], session: Session, client: FlaskClient) -> None:
    card = enroll(api, program, "guest@example.com")
    doubled = offer_with(api, program, {"type": "multiplier", "factor": 2})
    coupon = offer_with(api, program, {"type": "coupon", "points": 50})
    late = enroll(api, program, "late@example.com")
    other = new_merchant(client, session, name="Other Shop")
    theirs_program = other.post("/api/v1/programs", {"name": "Theirs"}).get_json()
    enroll(other, theirs_program, "them@example.com")
    theirs = offer_with(other, theirs_program, {"type": "coupon", "points": 50})
    before = (count_rows(session, Purchase), count_rows(session, LedgerEntry),
              count_rows(session, CouponRedemption))
    for buyer, named in ((late, coupon["id"]), (card, doubled["id"]), (card, theirs["id"]),
                         (card, 2_000_000_000)):
        refused = buy(api, buyer, 100_000, coupon=named)
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json()["code"] == "coupon_unavailable"
    for bad in (0, -1, True, "1", 2**31):
        assert buy(api, card, 100_000, coupon=bad).status_code == 422
    assert (count_rows(session, Purchase), count_rows(session, LedgerEntry),
            count_rows(session, CouponRedemption)) == before


def test_a_refund_takes_back_what_the_offer_gave_in_proportion_in_entries_naming_it(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "multiplier", "factor": 2.5})
    bought = buy(api, card, 100_000).get_json()  # 20 earned, 30 from the offer
    assert bought["bonus"] == 30
    for amount in (30_000, 70_000):
        response = api.post(f"/api/v1/pos/purchases/{bought['id']}/refund", {"amount": amount},
                            headers={"Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.get_json()
    assert offer_entries(session, card["id"]) == [
        ("bonus", 30, offer["id"]), ("reverse", -9, offer["id"]), ("reverse", -21, offer["id"])]
    assert balance(api, card) == 0
    session.rollback()
    total = session.scalar(select(func.sum(LedgerEntry.points)).where(
        LedgerEntry.card_id == card["id"]))
    session.rollback()
    assert total == 0


@pytest.mark.parametrize(("mechanic", "field"), [
    ({"type": "multiplier", "factor": 1}, "mechanic.multiplier.factor"),
    ({"type": "multiplier", "factor": 11}, "mechanic.multiplier.factor"),
    ({"type": "multiplier", "factor": True}, "mechanic.multiplier.factor"),
    ({"type": "multiplier", "factor": 1.555}, "mechanic.multiplier.factor"),
    ({"type": "bonus_points", "points": 0}, "mechanic.bonus_points.points"),
    ({"type": "bonus_points", "points": 10**9}, "mechanic.bonus_points.points"),
    ({"type": "bonus_points"}, "mechanic.bonus_points.points"),
    ({"type": "coupon"}, "mechanic.coupon"),
    ({"type": "coupon", "text": "x" * 81}, "mechanic.coupon.text"),
    ({"type": "cashback", "percent": 5}, "mechanic"),
    ({"type": "bonus_points", "points": 5, "extra": 1}, "mechanic.bonus_points.extra"),
    ("double", "mechanic"),
])
def test_a_bad_mechanic_is_422_naming_the_field_and_writes_nothing(
        api: Api, program: dict[str, Any], session: Session, mechanic: Any,
        field: str) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/offers",
                        {"title": "Bonus", "mechanic": mechanic})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"].startswith(field)
    assert count_rows(session, Offer) == 0


def test_a_stamps_program_takes_a_text_coupon_but_no_points(
        api: Api, session: Session) -> None:
    stamps = api.post("/api/v1/programs", {"name": "Stamps", "kind": "stamps",
                                           "stamps_required": 6}).get_json()
    refused = api.post(f"/api/v1/programs/{stamps['id']}/offers", {
        "title": "Bonus", "mechanic": {"type": "bonus_points", "points": 5}})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "mechanic"
    assert count_rows(session, Offer) == 0
    card = enroll(api, stamps, "guest@example.com")
    offer = offer_with(api, stamps, {"type": "coupon", "text": "Free cookie"})
    used = buy(api, card, 10_000, coupon=offer["id"])
    assert used.status_code == 201 and used.get_json()["bonus"] == 0
    assert count_rows(session, CouponRedemption) == 1
    assert buy(api, card, 10_000, coupon=offer["id"]).get_json()["code"] == "coupon_used"


def test_an_offer_published_after_the_programs_terms_were_read_acts_at_the_next_purchase(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    assert buy(api, card, 100_000).get_json()["bonus"] == 0  # the terms read, no offers
    offer = offer_with(api, program, {"type": "bonus_points", "points": 15})
    assert buy(api, card, 100_000).get_json()["bonus"] == 15
    assert offer_entries(session, card["id"]) == [("bonus", 15, offer["id"])]


def _use_coupon(port: int, api_key: str, barcode: str, coupon: int,
                start: threading.Barrier) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        start.wait(timeout=WAIT)
        connection.request(
            "POST", "/api/v1/pos/purchases",
            json.dumps({"barcode": barcode, "amount": 10_000, "coupon": coupon}),
            headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": uuid.uuid4().hex,
                     "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read()).get("code")
    finally:
        connection.close()


def test_ten_cashiers_racing_with_one_coupon_use_it_once(
        app: Flask, api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "coupon", "points": 50})
    threads = 10
    start = threading.Barrier(threads)
    with serving(app) as port, ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(_use_coupon, port, api.key, card["barcode"]["message"],
                               offer["id"], start) for _ in range(threads)]
        outcomes = sorted(future.result(timeout=WAIT) for future in futures)
    assert outcomes == [(201, None)] + [(409, "coupon_used")] * (threads - 1)
    assert count_rows(session, CouponRedemption) == 1
    assert offer_entries(session, card["id"]) == [("bonus", 50, offer["id"])]


def test_a_refund_after_the_points_were_spent_takes_back_only_what_is_left_and_books_agree(
        api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "guest@example.com")
    offer = offer_with(api, program, {"type": "multiplier", "factor": 2})
    bought = buy(api, card, 100_000).get_json()  # 20 earned + 20 from the offer
    spent = buy(api, card, 10_000, redeem_points=40).get_json()  # 60.00 paid: 1 + 1
    assert spent["balance"] == 2
    refund = api.post(f"/api/v1/pos/purchases/{bought['id']}/refund", {},
                      headers={"Idempotency-Key": uuid.uuid4().hex})
    assert refund.status_code == 201, refund.get_json()
    assert (refund.get_json()["points_reversed"], refund.get_json()["points_forgone"]) == (2, 38)
    assert balance(api, card) == 0
    assert offer_entries(session, card["id"]) == [
        ("bonus", 20, offer["id"]), ("bonus", 1, offer["id"]), ("reverse", -2, offer["id"])]
    session.rollback()
    total = session.scalar(select(func.sum(LedgerEntry.points)).where(
        LedgerEntry.card_id == card["id"]))
    session.rollback()
    assert total == 0
