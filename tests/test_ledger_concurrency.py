"""Many cashiers spending one card at once, on SQLite and PostgreSQL.

Hundreds of purchases, each redeeming the same few points, race against one card from
many threads behind a real HTTP server and from several OS processes that each build
their own app and engine on the same database. Exactly as many succeed as the balance
allows, every other one is a clean 409 ``insufficient_points`` (never a 500), and the
card's balance, its ledger entries and its purchases agree to the point afterwards.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.cards.models import Card
from app.config import Config
from app.ledger.models import LedgerEntry, Purchase
from app.outbox.models import OutboxMessage
from tests.conftest import Api

BALANCE = 1000
REDEEM = 7  # 1000 // 7 = 142 purchases fit, 6 points are left over
AMOUNT = 1_000  # 10.00; 7 points pay 7.00 of it and, at 0 %, nothing is earned
WAIT = 120  # seconds any one thread or process may take before the test gives up


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None
    balance: int | None


def _outcome(status: int, body: dict[str, Any]) -> Outcome:
    return Outcome(status, body.get("code"), body.get("balance") if status == 201 else None)


def _purchase_body(barcode: str) -> dict[str, Any]:
    return {"barcode": barcode, "amount": AMOUNT, "redeem_points": REDEEM}


def redeeming_card(api: Api, balance: int = BALANCE) -> dict[str, Any]:
    """A card holding ``balance`` welcome points in a program that earns nothing and lets
    points pay for the whole purchase."""
    program = api.post("/api/v1/programs", {
        "name": "Race", "currency": "UAH", "earn_percent": 0, "point_value": 100,
        "max_redeem_percent": 100, "welcome_points": balance,
    })
    assert program.status_code == 201, program.get_json()
    card = api.post(f"/api/v1/programs/{program.get_json()['id']}/cards",
                    {"name": "Taras", "email": "taras@example.com"})
    assert card.status_code == 201, card.get_json()
    body: dict[str, Any] = card.get_json()
    assert body["balance"] == balance
    return body


@dataclass(frozen=True)
class CardBooks:
    balance: int
    ledger_sum: int
    purchases: int
    redeemed: int
    redeem_entries: int
    pass_version: int
    outbox: int


def card_books(engine: Engine, card_id: int) -> CardBooks:
    """What the database holds for the card, read in one short transaction."""
    with engine.connect() as connection:
        balance, version = connection.execute(
            select(Card.balance, Card.pass_version).where(Card.id == card_id)).one()
        ledger = connection.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                                   .where(LedgerEntry.card_id == card_id))
        redeem_entries = connection.scalar(select(func.count(LedgerEntry.id)).where(
            LedgerEntry.card_id == card_id, LedgerEntry.kind == "redeem"))
        purchases, redeemed = connection.execute(
            select(func.count(Purchase.id), func.coalesce(func.sum(Purchase.redeemed_points), 0))
            .where(Purchase.card_id == card_id)).one()
        outbox = connection.scalar(select(func.count(OutboxMessage.id))
                                   .where(OutboxMessage.card_id == card_id))
        connection.rollback()
    return CardBooks(balance=int(balance), ledger_sum=int(ledger or 0), purchases=int(purchases),
                     redeemed=int(redeemed), redeem_entries=int(redeem_entries or 0),
                     pass_version=int(version), outbox=int(outbox or 0))


def assert_exactly_the_balance_was_spent(outcomes: list[Outcome], before: CardBooks,
                                         after: CardBooks, sent: int) -> None:
    fits = BALANCE // REDEEM
    assert len(outcomes) == sent
    assert Counter((o.status, o.code) for o in outcomes) == {
        (201, None): fits, (409, "insufficient_points"): sent - fits}
    # Each receipt shows the balance right after its own purchase: all different, one
    # step of REDEEM apart, so no two purchases ever saw the same balance.
    receipts = sorted(o.balance for o in outcomes if o.balance is not None)
    assert receipts == [BALANCE - REDEEM * k for k in range(fits, 0, -1)]
    assert after.balance == BALANCE - REDEEM * fits == BALANCE % REDEEM
    assert after.ledger_sum == after.balance
    assert after.purchases == after.redeem_entries == fits
    assert after.redeemed == REDEEM * fits
    # Every purchase that happened bumped the pass once and queued one push; no refused one.
    assert after.pass_version - before.pass_version == fits
    assert after.outbox - before.outbox == fits


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serving(app: Flask) -> Iterator[int]:
    """The app behind werkzeug's threaded HTTP server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _send_over_http(port: int, api_key: str, barcode: str, count: int,
                    start: threading.Barrier) -> list[Outcome]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    connection.connect()  # keep-alive: one connection per cashier
    outcomes = []
    try:
        start.wait(timeout=WAIT)
        for _ in range(count):
            connection.request(
                "POST", "/api/v1/pos/purchases", json.dumps(_purchase_body(barcode)),
                headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": uuid.uuid4().hex,
                         "Content-Type": "application/json"})
            response = connection.getresponse()
            outcomes.append(_outcome(response.status, json.loads(response.read())))
    finally:
        connection.close()
    return outcomes


def _send_through_client(api: Api, barcode: str, count: int,
                         start: threading.Barrier) -> list[Outcome]:
    start.wait(timeout=WAIT)
    outcomes = []
    for _ in range(count):
        response = api.post("/api/v1/pos/purchases", _purchase_body(barcode),
                            headers={"Idempotency-Key": uuid.uuid4().hex})
        outcomes.append(_outcome(response.status_code, response.get_json()))
    return outcomes


def _in_threads(threads: int, work: Callable[[threading.Barrier], list[Outcome]]
                ) -> list[Outcome]:
    start = threading.Barrier(threads)
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(work, start) for _ in range(threads)]
        return [outcome for future in futures for outcome in future.result(timeout=WAIT)]


def test_300_redeems_from_20_threads_over_http_spend_exactly_the_balance(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = redeeming_card(api)
    barcode = card["barcode"]["message"]
    threads, each = 20, 15
    before = card_books(engine, card["id"])
    with serving(app) as port:
        outcomes = _in_threads(
            threads, lambda start: _send_over_http(port, api.key, barcode, each, start))
    after = card_books(engine, card["id"])
    assert_exactly_the_balance_was_spent(outcomes, before, after, threads * each)
    assert api.get(f"/api/v1/cards/{card['id']}").get_json()["balance"] == BALANCE % REDEEM


def _cashier_process(config: Config, api_key: str, barcode: str, threads: int, each: int,
                     start: Any, results: Any) -> None:
    """One OS process: its own app, engine and pool, several cashiers in threads."""
    try:
        app = create_app(config)
        try:
            def work(barrier: threading.Barrier) -> list[Outcome]:
                return _send_through_client(Api(app.test_client(), api_key), barcode, each,
                                            barrier)

            start.wait(timeout=WAIT)  # every process has started and built its app
            results.put(("ok", _in_threads(threads, work)))
        finally:
            app.extensions["loyalpass"].engine.dispose()
    except BaseException as error:
        results.put(("error", f"{type(error).__name__}: {error}"))


def test_300_redeems_from_3_processes_spend_exactly_the_balance(
    app: Flask, api: Api, engine: Engine, config: Config
) -> None:
    card = redeeming_card(api)
    processes, threads, each = 3, 4, 25
    before = card_books(engine, card["id"])
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    children = [
        context.Process(target=_cashier_process, args=(
            config, api.key, card["barcode"]["message"], threads, each, start, results))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    outcomes: list[Outcome] = []
    try:
        for _ in children:
            try:
                status, value = results.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"a cashier process gave no answer in {WAIT} s")
            assert status == "ok", value
            outcomes.extend(value)
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    assert [child.exitcode for child in children] == [0] * processes
    after = card_books(engine, card["id"])
    assert_exactly_the_balance_was_spent(outcomes, before, after, processes * threads * each)


@contextmanager
def holding(engine: Engine, card_ids: list[int]) -> Iterator[Callable[[int], None]]:
    """Hold the cards still (their row locks on PostgreSQL, the write lock on SQLite)
    until the block ends, so that requests sent inside it pile up and then race.

    Yields ``wait_for(n)``: on PostgreSQL it returns once ``n`` requests are blocked on
    locks; SQLite cannot show its waiters, so there it gives them a moment.
    """
    with engine.connect() as connection:
        transaction = connection.begin()  # BEGIN IMMEDIATE on SQLite: the write lock
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT id FROM cards WHERE id = ANY(:ids) FOR UPDATE"),
                               {"ids": card_ids})

        def wait_for(count: int) -> None:
            if engine.dialect.name != "postgresql":
                time.sleep(0.5)
                return
            deadline = time.monotonic() + 30
            with engine.connect() as watcher:
                while True:
                    waiting = watcher.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"))
                    watcher.rollback()
                    if waiting is not None and waiting >= count:
                        return
                    assert time.monotonic() < deadline, f"{waiting} of {count} requests wait"
                    time.sleep(0.02)

        try:
            yield wait_for
        finally:
            transaction.rollback()


def test_two_cashiers_racing_for_the_last_points_one_wins(
    app: Flask, api: Api, engine: Engine
) -> None:
    card = redeeming_card(api, balance=REDEEM)
    cashiers = [Api(app.test_client(), api.key) for _ in range(2)]
    rounds = 3
    for round_number in range(rounds):
        if round_number:
            topped = api.post(f"/api/v1/cards/{card['id']}/adjustments",
                              {"points": REDEEM, "reason": "next round"},
                              headers={"Idempotency-Key": uuid.uuid4().hex})
            assert topped.get_json()["balance"] == REDEEM
        start = threading.Barrier(3)
        with ThreadPoolExecutor(2) as pool, holding(engine, [card["id"]]) as wait_for:
            futures = [pool.submit(_send_through_client, cashier, card["barcode"]["message"], 1,
                                   start) for cashier in cashiers]
            start.wait(timeout=WAIT)
            wait_for(2)
        outcomes = [outcome for future in futures for outcome in future.result(timeout=WAIT)]
        assert sorted((o.status, o.code, o.balance) for o in outcomes) == [
            (201, None, 0), (409, "insufficient_points", None)]
    books = card_books(engine, card["id"])
    assert books.balance == books.ledger_sum == 0
    assert books.purchases == rounds and books.redeemed == REDEEM * rounds
