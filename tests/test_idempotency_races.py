"""Idempotency keys under races, on SQLite and PostgreSQL: a retry that arrives while the
first request is still running, the same key with different bodies at once, a refund
retried at once, and the same key used by two merchants.

Each race holds the card still (its row lock on PostgreSQL, the write lock on SQLite)
while every request is sent, waits until they are all in flight (on PostgreSQL: blocked
on a lock, each on its own connection), then lets them go at once.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.ledger.models import IdempotencyRecord, Purchase, Refund
from tests.conftest import Api, new_merchant
from tests.test_ledger_concurrency import WAIT, card_books, holding

WELCOME = 100
AMOUNT = 10_000  # 100.00: 5 points pay 5.00, 10 % of the 95.00 paid earns 9 points
REDEEM = 5
EARNED = 9


def shop(api: Api, name: str = "Kava") -> dict[str, Any]:
    program = api.post("/api/v1/programs", {
        "name": name, "currency": "UAH", "earn_percent": 10, "point_value": 100,
        "welcome_points": WELCOME, "max_redeem_percent": 100,
    })
    assert program.status_code == 201, program.get_json()
    card = api.post(f"/api/v1/programs/{program.get_json()['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"})
    assert card.status_code == 201, card.get_json()
    body: dict[str, Any] = card.get_json()
    return body


def purchase_body(card: dict[str, Any], amount: int = AMOUNT) -> dict[str, Any]:
    return {"barcode": card["barcode"]["message"], "amount": amount, "redeem_points": REDEEM}


def race(engine: Engine, card_ids: list[int], sends: list[Callable[[], Any]]) -> list[Any]:
    """Run every ``send`` in its own thread, all released together behind the held cards."""
    start = threading.Barrier(len(sends) + 1)

    def run(send: Callable[[], Any]) -> Any:
        start.wait(timeout=WAIT)
        return send()

    with ThreadPoolExecutor(len(sends)) as pool, holding(engine, card_ids) as wait_for:
        futures = [pool.submit(run, send) for send in sends]
        start.wait(timeout=WAIT)
        wait_for(len(sends))
    return [future.result(timeout=WAIT) for future in futures]


def cashier(app: Flask, api: Api) -> Api:
    """Another till with the same key: its own test client, so its own requests."""
    return Api(app.test_client(), api.key)


def rows(engine: Engine, model: type, **where: Any) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(model).filter_by(**where)
        count = connection.scalar(query)
        connection.rollback()
    return int(count or 0)


def replayed(response: Any) -> bool:
    return response.headers.get("Idempotency-Replayed") == "true"


def test_one_purchase_sent_by_many_at_once_under_one_key_is_recorded_once(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = shop(api)
    key, threads = uuid.uuid4().hex, 8
    tills = [cashier(app, api) for _ in range(threads)]
    before = card_books(engine, card["id"])
    responses = race(engine, [card["id"]], [
        lambda till=till: till.post("/api/v1/pos/purchases", purchase_body(card),
                                    headers={"Idempotency-Key": key})
        for till in tills
    ])
    assert [r.status_code for r in responses] == [201] * threads
    bodies = [r.get_json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["redeemed"] == REDEEM and bodies[0]["earned"] == EARNED
    assert bodies[0]["balance"] == WELCOME - REDEEM + EARNED
    assert sorted(replayed(r) for r in responses) == [False] + [True] * (threads - 1)
    after = card_books(engine, card["id"])
    assert after.purchases == 1
    assert after.balance == after.ledger_sum == WELCOME - REDEEM + EARNED
    assert after.pass_version - before.pass_version == 1
    assert after.outbox - before.outbox == 1
    # A late retry after the dust settles still gets the same purchase back.
    late = api.post("/api/v1/pos/purchases", purchase_body(card),
                    headers={"Idempotency-Key": key})
    assert late.status_code == 201 and replayed(late) and late.get_json() == bodies[0]


def test_one_key_with_different_bodies_at_once_records_one_and_refuses_the_rest(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = shop(api)
    key, threads = uuid.uuid4().hex, 6
    amounts = [AMOUNT + 100 * n for n in range(threads)]
    tills = [cashier(app, api) for _ in range(threads)]
    responses = race(engine, [card["id"]], [
        lambda till=till, amount=amount: till.post(
            "/api/v1/pos/purchases", purchase_body(card, amount),
            headers={"Idempotency-Key": key})
        for till, amount in zip(tills, amounts, strict=True)
    ])
    assert Counter((r.status_code, r.get_json().get("code")) for r in responses) == {
        (201, None): 1, (409, "idempotency_key_reused"): threads - 1}
    winner = next(r.get_json() for r in responses if r.status_code == 201)
    assert not any(replayed(r) for r in responses)
    books = card_books(engine, card["id"])
    assert books.purchases == 1
    assert books.balance == books.ledger_sum == winner["balance"]
    assert api.get(f"/api/v1/pos/purchases/{winner['id']}").get_json()["amount"] == \
        winner["amount"]
    # The key stays bound to the winner's body: it replays, every other body is refused.
    again = api.post("/api/v1/pos/purchases", purchase_body(card, winner["amount"]),
                     headers={"Idempotency-Key": key})
    assert again.status_code == 201 and replayed(again) and again.get_json() == winner
    loser = next(a for a in amounts if a != winner["amount"])
    refused = api.post("/api/v1/pos/purchases", purchase_body(card, loser),
                       headers={"Idempotency-Key": key})
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "idempotency_key_reused"


def test_a_refund_retried_at_once_reverses_the_purchase_once(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = shop(api)
    bought = api.post("/api/v1/pos/purchases", purchase_body(card),
                      headers={"Idempotency-Key": uuid.uuid4().hex}).get_json()
    assert bought["balance"] == WELCOME - REDEEM + EARNED
    key, threads = uuid.uuid4().hex, 6
    tills = [cashier(app, api) for _ in range(threads)]
    path = f"/api/v1/pos/purchases/{bought['id']}/refund"
    responses = race(engine, [card["id"]], [
        lambda till=till: till.post(path, {"reason": "returned"},
                                    headers={"Idempotency-Key": key})
        for till in tills
    ])
    assert [r.status_code for r in responses] == [201] * threads
    bodies = [r.get_json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sorted(replayed(r) for r in responses) == [False] + [True] * (threads - 1)
    assert bodies[0]["points_reversed"] == EARNED and bodies[0]["points_returned"] == REDEEM
    assert bodies[0]["balance"] == WELCOME
    assert rows(engine, Refund, purchase_id=bought["id"]) == 1
    books = card_books(engine, card["id"])
    assert books.balance == books.ledger_sum == WELCOME
    assert api.get(f"/api/v1/pos/purchases/{bought['id']}").get_json()["refunded_amount"] == \
        AMOUNT


def test_refunds_of_one_purchase_under_different_keys_at_once_reverse_it_once(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = shop(api)
    bought = api.post("/api/v1/pos/purchases", purchase_body(card),
                      headers={"Idempotency-Key": uuid.uuid4().hex}).get_json()
    threads = 4
    tills = [cashier(app, api) for _ in range(threads)]
    path = f"/api/v1/pos/purchases/{bought['id']}/refund"
    responses = race(engine, [card["id"]], [
        lambda till=till: till.post(path, {"amount": AMOUNT},
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
        for till in tills
    ])
    assert Counter((r.status_code, r.get_json().get("code")) for r in responses) == {
        (201, None): 1, (409, "refund_exceeds_purchase"): threads - 1}
    assert rows(engine, Refund, purchase_id=bought["id"]) == 1
    books = card_books(engine, card["id"])
    assert books.balance == books.ledger_sum == WELCOME


def test_the_same_key_at_two_merchants_makes_two_independent_purchases(
    app: Flask, api: Api, engine: Engine, client: FlaskClient, session: Session
) -> None:
    other = new_merchant(client, session, "Chai House")
    ours, theirs = shop(api), shop(other, "Chai")
    key = uuid.uuid4().hex
    sends = [
        lambda: cashier(app, api).post("/api/v1/pos/purchases", purchase_body(ours),
                                       headers={"Idempotency-Key": key}),
        lambda: cashier(app, other).post("/api/v1/pos/purchases",
                                         purchase_body(theirs, 2 * AMOUNT),
                                         headers={"Idempotency-Key": key}),
    ]
    first, second = race(engine, [ours["id"], theirs["id"]], sends)
    assert first.status_code == second.status_code == 201, (first.get_json(), second.get_json())
    assert not replayed(first) and not replayed(second)
    mine, yours = first.get_json(), second.get_json()
    assert mine["id"] != yours["id"]
    assert (mine["card_id"], mine["amount"]) == (ours["id"], AMOUNT)
    assert (yours["card_id"], yours["amount"]) == (theirs["id"], 2 * AMOUNT)
    assert rows(engine, Purchase) == 2 and rows(engine, IdempotencyRecord, key=key) == 2
    # Each merchant's retry replays its own purchase, never the other's.
    for merchant, card, amount, expected in ((api, ours, AMOUNT, mine),
                                             (other, theirs, 2 * AMOUNT, yours)):
        again = merchant.post("/api/v1/pos/purchases", purchase_body(card, amount),
                              headers={"Idempotency-Key": key})
        assert again.status_code == 201 and replayed(again) and again.get_json() == expected
        assert merchant.get(f"/api/v1/pos/purchases/{expected['id']}").status_code == 200
    # And neither can see the other's purchase.
    assert api.get(f"/api/v1/pos/purchases/{yours['id']}").status_code == 404
    assert other.get(f"/api/v1/pos/purchases/{mine['id']}").status_code == 404
