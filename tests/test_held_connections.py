"""The counter's purchases, and a wallet's polls and pass downloads, run on a PostgreSQL
connection each thread holds apart from the pool (``app.sql``): one per thread, replaced
when the server ended it, closed when its thread ends or its engine is disposed, never
shared with a forked process; and a purchase, poll or pass download that meets a
connection the server just ended is a 503 that the till or the phone may send again, as
is any request whose pooled connection went away, after which the pool recovers."""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from werkzeug.test import Client, TestResponse

import app.sql
from app.ledger.models import Purchase
from app.web.wallet_lane import WalletLane
from tests.conftest import Api, _truncate_postgres
from tests.push_helpers import install, register

# The statement only a purchase sends: its backend is the held connection.
WRITING = "WITH card AS (UPDATE cards%"


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


def _buy(api: Api, card: dict[str, Any], key: str | None = None) -> Any:
    return api.post("/api/v1/pos/purchases",
                    {"barcode": card["barcode"]["message"], "amount": 10_000},
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def _purchase_backends(engine: Engine) -> set[int]:
    """PostgreSQL's processes for the database whose last statement was a purchase's."""
    with engine.connect() as connection:
        return set(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE :writing AND pid <> pg_backend_pid()"), {"writing": WRITING}))


def _until(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _end(engine: Engine, pid: int) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert _until(lambda: pid not in _backends(engine)), "the server did not end it"


def _backends(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))


def _purchases(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Purchase)) or 0)


def test_purchases_of_one_thread_stay_on_one_connection(
        api: Api, card: dict[str, Any], engine: Engine) -> None:
    for _ in range(30):
        assert _buy(api, card).status_code == 201
    assert len(_purchase_backends(engine)) == 1


def test_a_connection_the_server_ended_is_replaced_after_a_pause(
        api: Api, card: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _buy(api, card).status_code == 201
    (ended,) = _purchase_backends(engine)
    _end(engine, ended)
    monkeypatch.setattr(app.sql, "IDLE_BEFORE_PING", 0.0)  # every use is "after a pause"

    answer = _buy(api, card)

    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["balance"] == 2 * 2  # 2 % of 100.00, twice
    assert ended not in _purchase_backends(engine)


def test_a_purchase_that_meets_a_just_ended_connection_is_a_503_and_its_retry_counts_once(
        api: Api, card: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.sql, "IDLE_BEFORE_PING", 3600.0)  # no ping: it is met in use
    assert _buy(api, card).status_code == 201
    (ended,) = _purchase_backends(engine)
    _end(engine, ended)

    failed = _buy(api, card, key="till-7-receipt-1001")

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert failed.get_json()["code"] == "database_unavailable"
    assert _purchases(engine) == 1  # nothing of it was written

    retried = _buy(api, card, key="till-7-receipt-1001")
    again = _buy(api, card, key="till-7-receipt-1001")

    assert retried.status_code == 201, retried.get_json()
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json() == retried.get_json()
    assert retried.get_json()["balance"] == 2 * 2
    assert _purchases(engine) == 2


def test_disposing_the_engine_closes_the_held_connections(
        api: Api, card: dict[str, Any], engine: Engine) -> None:
    assert _buy(api, card).status_code == 201
    (held,) = _purchase_backends(engine)

    engine.dispose()

    assert _until(lambda: held not in _backends(engine)), "the held connection is still open"
    assert _buy(api, card).status_code == 201  # and the engine goes on with a new one


def _till_thread(api: Api, card: dict[str, Any], engine: Engine) -> tuple[list[int], int]:
    """Three purchases from a thread of their own (as a threaded server's request is):
    their answers, and the backend they ran on, read while the thread was alive."""
    answers: list[int] = []
    backends: list[set[int]] = []
    served, done = threading.Event(), threading.Event()

    def till() -> None:
        answers.extend(_buy(api, card).status_code for _ in range(3))
        served.set()
        done.wait(30)

    thread = threading.Thread(target=till)
    thread.start()
    assert served.wait(30)
    backends.append(_purchase_backends(engine))
    done.set()
    thread.join(30)
    gc.collect()
    (backend,) = backends[0]
    return answers, backend


def test_a_thread_that_ends_hands_its_connection_to_the_next_and_disposal_closes_it(
        api: Api, card: dict[str, Any], engine: Engine) -> None:
    first, held = _till_thread(api, card, engine)
    second, then = _till_thread(api, card, engine)

    assert first == second == [201, 201, 201]
    assert then == held  # one connection, not one per thread
    assert held in _backends(engine)

    engine.dispose()

    assert _until(lambda: held not in _backends(engine)), "the kept connection stayed open"


def _buy_in_child(app: Flask, key: str, barcode: str, start: Any, answers: Any) -> None:
    client = app.test_client()
    start.wait(30)
    for _ in range(20):
        response = client.post(
            "/api/v1/pos/purchases", json={"barcode": barcode, "amount": 10_000},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex})
        answers.put(response.status_code)


def test_a_forked_process_leaves_its_parents_connection_alone(
        app: Flask, api: Api, card: dict[str, Any], engine: Engine) -> None:
    assert _buy(api, card).status_code == 201  # the parent holds its connection now
    (parents,) = _purchase_backends(engine)
    context = multiprocessing.get_context("fork")
    start, answers = context.Event(), context.Queue()
    child = context.Process(target=_buy_in_child,
                            args=(app, api.key, card["barcode"]["message"], start, answers))
    child.start()

    start.set()  # both buy at once: on one shared connection they would garble each other
    mine = [_buy(api, card).status_code for _ in range(20)]
    child.join(60)

    assert child.exitcode == 0
    assert mine == [201] * 20 and [answers.get(timeout=5) for _ in range(20)] == [201] * 20
    assert parents in _backends(engine)
    answer = _buy(api, card)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["balance"] == 42 * 2


def test_a_session_request_that_meets_an_ended_connection_is_a_503_then_it_recovers(
        api: Api, card: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.db

    monkeypatch.setattr(app.db, "IDLE_BEFORE_PING", 3600.0)  # the pool does not ping
    path = f"/api/v1/cards/{card['id']}"
    assert api.get(path).status_code == 200
    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    ours = {"name": engine.url.database}
    try:
        with admin.connect() as connection:  # every connection of the app's pool ends
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE datname = :name"), ours)
            assert _until(lambda: not connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), ours))
    finally:
        admin.dispose()

    failed = api.get(path)
    answers = [api.get(path).status_code for _ in range(3)]

    assert failed.status_code == 503
    assert failed.get_json()["code"] == "database_unavailable"
    assert failed.headers["Retry-After"] == "1"
    assert answers == [200, 200, 200]


# Apple's web service: the device's poll and its pass run on the held connection too.

POLLING = "SELECT cards.serial_number, cards.pass_updated_at FROM devices%"
PASSING = "SELECT cards.serial_number, cards.authentication_token%"


def _wallet_backends(engine: Engine, statement: str) -> set[int]:
    with engine.connect() as connection:
        return set(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE :statement AND pid <> pg_backend_pid()"), {"statement": statement}))


def _installed(api: Api, card: dict[str, Any]) -> dict[str, str]:
    device = install(api.client, card)
    assert register(api.client, device, "device-1", "ab" * 32) == 201
    return device


def _poll(api: Api, device: dict[str, str]) -> Any:
    return api.client.get(f"/passkit/v1/devices/device-1/registrations/{device['type']}")


def _pass(api: Api, device: dict[str, str]) -> Any:
    return api.client.get(f"/passkit/v1/passes/{device['type']}/{device['serial']}",
                          headers={"Authorization": f"ApplePass {device['token']}"})


def test_a_devices_polls_and_pass_downloads_stay_on_the_threads_held_connection(
        api: Api, card: dict[str, Any], engine: Engine) -> None:
    device = _installed(api, card)
    assert _buy(api, card).status_code == 201
    (bought,) = _purchase_backends(engine)  # each backend shows its latest statement
    for _ in range(10):
        assert _poll(api, device).status_code == 200
    polled = _wallet_backends(engine, POLLING)
    for _ in range(10):
        assert _pass(api, device).status_code == 200

    assert polled == _wallet_backends(engine, PASSING) == {bought}


def _without_lane(api: Api) -> Any:
    """A client of the app without ``app.web.wallet_lane`` in front: Flask's views answer
    the wallet's requests too (only ``client`` is used)."""
    lane = api.client.application.wsgi_app
    assert isinstance(lane, WalletLane)
    return SimpleNamespace(client=Client(lane.flask, TestResponse))


@pytest.mark.parametrize("ask", [_poll, _pass], ids=["poll", "pass"])
def test_a_poll_or_pass_that_meets_a_just_ended_connection_is_a_503_to_retry_and_the_retry_answers(
        api: Api, card: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch,
        ask: Any) -> None:
    monkeypatch.setattr(app.sql, "IDLE_BEFORE_PING", 3600.0)  # no ping: it is met in use
    device = _installed(api, card)
    flask_alone = _without_lane(api)
    assert ask(flask_alone, device).status_code == 200
    (ended,) = _wallet_backends(engine, POLLING) | _wallet_backends(engine, PASSING)
    _end(engine, ended)

    failed = ask(flask_alone, device)

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert failed.get_json()["code"] == "database_unavailable"
    retried = ask(flask_alone, device)
    assert retried.status_code == 200
    assert ended not in _wallet_backends(engine, POLLING) | _wallet_backends(engine, PASSING)


@pytest.mark.parametrize("ask", [_poll, _pass], ids=["poll", "pass"])
def test_through_the_wallet_lane_a_just_ended_connection_is_retried_at_once_by_flask(
        api: Api, card: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch,
        ask: Any) -> None:
    monkeypatch.setattr(app.sql, "IDLE_BEFORE_PING", 3600.0)
    device = _installed(api, card)
    assert ask(api, device).status_code == 200
    (ended,) = _wallet_backends(engine, POLLING) | _wallet_backends(engine, PASSING)
    _end(engine, ended)

    answered = ask(api, device)  # the lane met it and handed the request to Flask

    assert answered.status_code == 200
    assert ended not in _wallet_backends(engine, POLLING) | _wallet_backends(engine, PASSING)
