"""A busy till's purchases NOTIFY the workers at most every ``NOTIFY_EVERY`` (a NOTIFY
costs PostgreSQL about as much as a row); a worker in another process still pushes every
one of them at once, because a woken worker looks again ``LINGER`` after it runs out of
work, and not only at its next poll."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.config import Config
from app.delivery import loop as worker
from app.delivery.loop import PostgresListener
from app.delivery.pushes import Worker
from app.delivery.workers import make_workers
from app.outbox.messages import NOTIFY_CHANNEL
from tests.conftest import Api, _truncate_postgres
from tests.push_helpers import RecordingSender, install, register, wait_for

CARDS = 4
WAIT = 60
# Scaled up so that the worker is surely idle again before the second purchase of a pair:
# the till notifies at most once a second, the worker looks again 1.5 s after it ran out.
NOTIFY_EVERY = 1.0
LINGER = 1.5


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


class Notifications:
    """Counts the NOTIFYs on the outbox channel, from a LISTEN connection of its own."""

    def __init__(self, database_url: str) -> None:
        dsn = make_url(database_url).set(drivername="postgresql")
        self.connection = psycopg.connect(dsn.render_as_string(hide_password=False),
                                          autocommit=True)
        self.connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for _ in self.connection.notifies(timeout=0.2):
                self.count += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.connection.close()


@pytest.fixture
def notifications(database_url: str) -> Iterator[Notifications]:
    counter = Notifications(database_url)
    yield counter
    counter.close()


def _till(config: Config, api_key: str, barcodes: list[str], answers: Any) -> None:
    """Another process (as a web worker is): one purchase on each card, in pairs: the
    second of a pair comes too soon to NOTIFY, after the worker has gone idle again."""
    app = create_app(config)
    app.extensions["loyalpass"].wakeups.notify_every = NOTIFY_EVERY
    client = app.test_client()
    statuses = []
    for number, barcode in enumerate(barcodes):
        time.sleep(0.5 if number % 2 else 1.2)
        response = client.post("/api/v1/pos/purchases",
                               json={"barcode": barcode, "amount": 10_000},
                               headers={"Authorization": f"Bearer {api_key}",
                                        "Idempotency-Key": uuid.uuid4().hex})
        statuses.append(response.status_code)
    app.extensions["loyalpass"].engine.dispose()
    answers.put(statuses)


def test_quick_purchases_notify_seldom_and_a_worker_elsewhere_pushes_each_at_once(
        app: Flask, api: Api, config: Config, notifications: Notifications,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "LINGER", LINGER)
    program = api.post("/api/v1/programs", {"name": "Busy", "earn_percent": 5}).get_json()
    device = app.test_client()
    cards, tokens = [], []
    for number in range(CARDS):
        card = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": f"Guest {number}", "email": f"g{number}@example.com"}
                        ).get_json()
        token = f"{number:02d}" + "ab" * 31
        assert register(device, install(device, card), f"phone-{number}", token) == 201
        cards.append(card)
        tokens.append(token)
    # The worker of this process polls once a minute: only a NOTIFY, and its look again
    # after it, can make it push the second purchase of a pair within the test's time.
    runtime = create_app(config.with_changes(worker_poll_interval=60.0)).extensions["loyalpass"]
    sender = RecordingSender()
    (loop,) = [loop for loop in make_workers(runtime, push_sender=sender, loops=1)
               if isinstance(loop, Worker)]
    loop.start()
    listener = PostgresListener(config.database_url, loop.wake)
    listener.start()
    try:
        wait_for(lambda: set(sender.tokens()) >= set(tokens), timeout=20)  # enrolments
        time.sleep(0.5)  # the listener is listening, the worker idle on its long wait
        notified_before, pushed_before = notifications.count, len(sender.tokens())
        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        till = context.Process(target=_till, args=(
            config, api.key, [card["barcode"]["message"] for card in cards], answers))
        till.start()
        assert answers.get(timeout=WAIT) == [201] * CARDS
        till.join(WAIT)

        wait_for(lambda: set(sender.tokens()[pushed_before:]) >= set(tokens),
                 timeout=20)  # less than the worker's poll
        assert notifications.count - notified_before == CARDS // 2  # one a pair
    finally:
        loop.stop()
        loop.join(15)
        listener.stop()
        runtime.engine.dispose()
