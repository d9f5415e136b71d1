"""The worker drains the outbox and pushes every device that holds a changed pass, once
per device however many changes piled up, and records what Apple answered."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.clock import utcnow
from app.config import Config
from app.delivery.pushes import MAX_ATTEMPTS, Worker
from app.devices.models import Device, Registration
from tests.conftest import Api, count_rows
from tests.push_helpers import RecordingSender, install, register, wait_for
from tests.test_pos_api import buy

TOKEN_A, TOKEN_B = "aa" * 32, "bb" * 32


def _worker(app: Flask, sender: RecordingSender) -> Worker:
    runtime = app.extensions["loyalpass"]
    return Worker(sessions=runtime.sessions, sender=sender,
                  topic=runtime.wallet.pass_type_identifier)


@pytest.fixture
def held(client: FlaskClient, card: dict[str, Any]) -> dict[str, Any]:
    """The card installed on two devices."""
    installed = install(client, card)
    assert register(client, installed, "device-a", TOKEN_A) == 201
    assert register(client, installed, "device-b", TOKEN_B) == 201
    return {**installed, "card": card}


def _drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def test_a_purchase_pushes_every_device_with_the_pass_type_as_topic(
    app: Flask, api: Api, held: dict[str, Any], session: Session
) -> None:
    sender = RecordingSender()
    buy(api, held["card"], 10_000)
    _drain(_worker(app, sender))
    assert sorted(sender.pushes) == [(TOKEN_A, held["type"]), (TOKEN_B, held["type"])]
    session.rollback()
    states = session.scalars(select(Registration.push_status)).all()
    assert states == ["idle", "idle"]


def test_many_changes_before_the_worker_runs_make_one_push_per_device(
    app: Flask, api: Api, held: dict[str, Any]
) -> None:
    for _ in range(10):
        buy(api, held["card"], 1_000)
    sender = RecordingSender()
    _drain(_worker(app, sender))
    assert sorted(sender.tokens()) == [TOKEN_A, TOKEN_B]


def test_a_device_holding_two_changed_passes_gets_one_push(
    app: Flask, api: Api, client: FlaskClient, held: dict[str, Any]
) -> None:
    other = api.post(f"/api/v1/programs/{held['card']['program_id']}/cards",
                     {"name": "Second", "email": "second@example.com"}).get_json()
    assert register(client, install(client, other), "device-a", TOKEN_A) == 201
    buy(api, held["card"], 1_000)
    buy(api, other, 1_000)
    sender = RecordingSender()
    _drain(_worker(app, sender))
    assert sorted(sender.tokens()) == [TOKEN_A, TOKEN_B]


def test_a_device_that_deleted_the_pass_loses_its_registration(
    app: Flask, api: Api, held: dict[str, Any], session: Session
) -> None:
    buy(api, held["card"], 1_000)
    _drain(_worker(app, RecordingSender({TOKEN_A: "unregistered", TOKEN_B: "bad_token"})))
    assert count_rows(session, Registration) == 0 and count_rows(session, Device) == 0


def test_a_refused_push_waits_backs_off_and_is_parked_after_the_last_attempt(
    app: Flask, api: Api, held: dict[str, Any], session: Session
) -> None:
    buy(api, held["card"], 1_000)
    worker = _worker(app, RecordingSender({TOKEN_A: "retry"}))
    _drain(worker)
    session.rollback()
    pending = session.scalars(select(Registration).where(
        Registration.push_status == "pending")).all()
    assert len(pending) == 1 and pending[0].push_attempts == 1
    assert pending[0].push_available_at is not None
    session.rollback()
    for _ in range(MAX_ATTEMPTS):
        session.execute(update(Registration).where(Registration.push_status == "pending")
                        .values(push_available_at=utcnow() - timedelta(seconds=1)))
        session.commit()
        _drain(worker)
    deliveries = api.get(f"/api/v1/cards/{held['card']['id']}/deliveries").get_json()
    assert sorted(d["status"] for d in deliveries["deliveries"]) == ["failed", "idle"]
    assert api.get("/api/v1/pushes").get_json()["failed"] == 1
    retried = api.post(f"/api/v1/cards/{held['card']['id']}/deliveries/retry")
    assert retried.get_json() == {"requeued": 1}
    healthy = RecordingSender()
    _drain(_worker(app, healthy))
    assert healthy.tokens() == [TOKEN_A]
    assert api.get("/api/v1/pushes").get_json()["failed"] == 0


def test_a_change_arriving_while_a_push_is_in_flight_is_pushed_again(
    app: Flask, api: Api, held: dict[str, Any]
) -> None:
    buy(api, held["card"], 1_000)

    class ChangeDuringPush(RecordingSender):
        fired = False

        def push(self, tokens: Any, *, topic: str, send_while: Any = None) -> Any:
            if not self.fired:
                self.fired = True
                buy(api, held["card"], 1_000)  # committed while the first push is out
            return super().push(tokens, topic=topic, send_while=send_while)

    sender = ChangeDuringPush()
    _drain(_worker(app, sender))
    assert sorted(sender.tokens()) == sorted([TOKEN_A, TOKEN_B] * 2)


def test_a_design_change_pushes_every_device_of_the_program(
    app: Flask, api: Api, held: dict[str, Any]
) -> None:
    api.patch(f"/api/v1/programs/{held['card']['program_id']}",
              {"colors": {"background": "#101010"}})
    sender = RecordingSender()
    _drain(_worker(app, sender))
    assert sorted(sender.tokens()) == [TOKEN_A, TOKEN_B]


def test_blocking_a_card_pushes_its_voided_pass(
    app: Flask, api: Api, client: FlaskClient, held: dict[str, Any]
) -> None:
    api.post(f"/api/v1/cards/{held['card']['id']}/block")
    sender = RecordingSender()
    _drain(_worker(app, sender))
    assert sorted(sender.tokens()) == [TOKEN_A, TOKEN_B]
    response = client.get(f"/passkit/v1/passes/{held['type']}/{held['serial']}",
                          headers={"Authorization": f"ApplePass {held['token']}"})
    from tests.wallet_helpers import pass_json

    assert pass_json(response.data)["voided"] is True


def test_deliveries_show_each_device_when_it_was_pushed_and_with_what(
    app: Flask, api: Api, held: dict[str, Any]
) -> None:
    buy(api, held["card"], 1_000)
    before = api.get(f"/api/v1/cards/{held['card']['id']}/deliveries").get_json()
    assert [d["pending"] for d in before["deliveries"]] == [False, False]  # not fanned out
    _drain(_worker(app, RecordingSender()))
    after = api.get(f"/api/v1/cards/{held['card']['id']}/deliveries").get_json()
    assert [d["last_result"] for d in after["deliveries"]] == ["delivered", "delivered"]
    assert all(d["last_pushed_at"] for d in after["deliveries"])
    assert api.get("/api/v1/pushes").get_json() == {
        "pending": 0, "failed": 0, "delivered": 2, "devices": 2}


def test_two_workers_never_push_the_same_registration_at_once(
    app: Flask, api: Api, client: FlaskClient, card: dict[str, Any]
) -> None:
    installed = install(client, card)
    tokens = [f"{n:064x}" for n in range(60)]
    for number, token in enumerate(tokens):
        register(client, installed, f"device-{number}", token)
    buy(api, card, 1_000)
    sender = RecordingSender(delay=0.05)
    workers = [_worker(app, sender) for _ in range(2)]
    for worker in workers:
        worker.batch = 7
    threads = [threading.Thread(target=_drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sender.overlaps == []
    assert sorted(sender.tokens()) == sorted(tokens)


def _card_on_devices(client: FlaskClient, card: dict[str, Any], count: int) -> list[str]:
    installed = install(client, card)
    tokens = [f"{n:064x}" for n in range(count)]
    for number, token in enumerate(tokens):
        assert register(client, installed, f"device-{number}", token) == 201
    return tokens


def test_the_next_batch_goes_to_apns_while_one_is_still_in_flight_and_each_device_gets_one_push(
    app: Flask, api: Api, client: FlaskClient, card: dict[str, Any], session: Session
) -> None:
    tokens = _card_on_devices(client, card, 30)
    buy(api, card, 1_000)
    sender = RecordingSender(delay=0.05)
    worker = _worker(app, sender)
    worker.batch = 7
    _drain(worker)
    assert sorted(sender.tokens()) == tokens and sender.overlaps == []
    assert sender.most_calls_at_once == 2  # one batch pushed while the last is recorded
    session.rollback()
    assert set(session.scalars(select(Registration.push_status))) == {"idle"}
    assert set(session.scalars(select(Registration.last_push_result))) == {"delivered"}
    assert set(session.scalars(select(Registration.push_leased_until))) == {None}


def test_a_stopping_worker_finishes_the_batch_in_hand_and_claims_no_more(
    app: Flask, api: Api, client: FlaskClient, card: dict[str, Any], session: Session
) -> None:
    _card_on_devices(client, card, 30)
    buy(api, card, 1_000)
    sender = RecordingSender()
    worker = _worker(app, sender)
    worker.batch = 7
    worker.stop()
    worker.run_once()
    assert len(sender.tokens()) == 7
    session.rollback()
    states = session.execute(select(Registration.push_status, Registration.push_leased_until)
                             ).all()
    assert sorted(status for status, _ in states) == ["idle"] * 7 + ["pending"] * 23
    assert {leased for _, leased in states} == {None}  # the rest waits for the next worker


def test_the_inline_worker_pushes_right_after_the_commit(
    config: Config, client: FlaskClient
) -> None:
    sender = RecordingSender()
    app = create_app(config.with_changes(worker="inline", worker_poll_interval=30.0),
                     push_sender=sender)
    try:
        inline = app.test_client()
        from app.merchants.service import create_merchant

        with app.extensions["loyalpass"].sessions() as session:
            key = create_merchant(session, name="Inline", email=f"{uuid.uuid4().hex}@x.io")
        owner = Api(inline, key.api_key)
        program = owner.post("/api/v1/programs", {"name": "Inline"}).get_json()
        card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                          {"name": "I", "email": "i@example.com"}).get_json()
        register(inline, install(inline, card), "device-inline", TOKEN_A)
        buy(owner, card, 1_000)
        assert wait_for(lambda: TOKEN_A in sender.tokens(), timeout=5.0) < 2.0
    finally:
        app.extensions["loyalpass"].stop_workers()
