"""A worker that dies loses none of its pushes for long: another worker frees its leases
within seconds of its last heartbeat and pushes them; a live worker kept busy keeps its
leases; a worker that was frozen and comes back pushes and records nothing another took
over. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.delivery.fanout import drain_outbox
from app.delivery.models import WorkerProcess
from app.delivery.presence import REGISTRATIONS, Presence, guard
from app.delivery.pushes import Worker, claim_due, record_results
from app.devices.models import Registration
from app.integrations.apns import PushResult, SendWhile
from tests.conftest import Api
from tests.push_helpers import RecordingSender, install, register, wait_for
from tests.test_pos_api import buy

TOKEN_A, TOKEN_B = "aa" * 32, "bb" * 32
QUICK = timedelta(seconds=0.5)  # silent this long: dead (5 s in service)


@pytest.fixture
def changed(app: Flask, client: FlaskClient, api: Api, card: dict[str, Any]) -> list[str]:
    """A card on two devices, just bought with: two registrations waiting for a push."""
    installed = install(client, card)
    assert register(client, installed, "device-a", TOKEN_A) == 201
    assert register(client, installed, "device-b", TOKEN_B) == 201
    buy(api, card, 10_000)
    with app.extensions["loyalpass"].sessions() as session:
        assert drain_outbox(session)
    return [TOKEN_A, TOKEN_B]


def _worker(app: Flask, sender: RecordingSender, presence: Presence,
            lease: timedelta = timedelta(seconds=60)) -> Worker:
    runtime = app.extensions["loyalpass"]
    return Worker(sessions=runtime.sessions, sender=sender, presence=presence, lease=lease,
                  topic=runtime.wallet.pass_type_identifier, name=presence.process_name)


def _presence(app: Flask, name: str, stale: timedelta = QUICK, beat: float = 1.0) -> Presence:
    return Presence(app.extensions["loyalpass"].sessions, name=name, stale=stale, beat=beat)


def _leases(session: Session) -> list[tuple[Any, ...]]:
    session.rollback()
    rows = session.execute(select(Registration.push_status, Registration.push_leased_by)
                           .order_by(Registration.id)).all()
    session.rollback()
    return [tuple(row) for row in rows]


def test_a_killed_workers_pushes_go_out_through_another_worker_within_seconds(
        app: Flask, changed: list[str], session: Session) -> None:
    killed = _presence(app, "killed")
    claimed = claim_due(session, limit=100, owner=killed.worker_id)  # then SIGKILL
    assert len(claimed) == 2
    survivor, sender = _presence(app, "survivor"), RecordingSender()
    worker = _worker(app, sender, survivor)
    assert worker.run_once() == 0  # leased for a minute, to a worker not yet silent long

    def pushed() -> bool:
        survivor.run_once()
        worker.run_once()
        return len(sender.pushes) == 2

    waited = wait_for(pushed, timeout=10)

    assert waited < 3
    assert sorted(sender.tokens()) == changed
    assert _leases(session) == [("idle", None), ("idle", None)]
    assert session.scalar(select(func.count()).select_from(WorkerProcess)) == 1


def test_a_worker_kept_busy_by_a_slow_apple_keeps_its_leases(
        app: Flask, changed: list[str]) -> None:
    busy = _presence(app, "busy", stale=timedelta(seconds=5), beat=0.2)
    busy.start()
    slow = RecordingSender(delay=2.5)  # longer than the lease the push loop takes
    pushing = threading.Thread(target=_worker(app, slow, busy,
                                              lease=timedelta(seconds=1)).run_once)
    pushing.start()
    wait_for(lambda: bool(slow.in_flight))
    other_presence, other = _presence(app, "other"), RecordingSender()
    other_worker = _worker(app, other, other_presence)
    while pushing.is_alive():
        other_presence.run_once()
        assert other_worker.run_once() == 0
        time.sleep(0.1)
    busy.stop()
    busy.join()

    assert sorted(slow.tokens()) == changed
    assert other.pushes == []


def test_a_frozen_worker_that_comes_back_pushes_and_records_nothing_another_took_over(
        app: Flask, changed: list[str], session: Session) -> None:
    frozen = _presence(app, "frozen")
    owner = frozen.worker_id
    claimed = claim_due(session, limit=100, owner=owner)
    time.sleep(QUICK.total_seconds() + 0.2)  # SIGSTOP … SIGCONT
    survivor = _presence(app, "survivor")
    survivor.run_once()  # found the frozen one silent: its leases are free
    taken = claim_due(session, limit=100, owner=survivor.worker_id)
    assert len(taken) == 2

    with guard(frozen, REGISTRATIONS, [item.registration_id for item in claimed],
               owner) as ours:
        assert not ours()
    # Even answers it got before freezing are not recorded over the new owner's lease.
    record_results(session, [(item, PushResult(token=item.token, outcome="delivered",
                                               status=200, reason=None))
                             for item in claimed], owner=owner)

    assert _leases(session) == [("pending", survivor.worker_id)] * 2
    assert frozen.worker_id not in (owner, survivor.worker_id)  # it joined again


def test_a_worker_frozen_between_two_pushes_of_a_batch_sends_none_of_the_rest_when_it_thaws(
        app: Flask, changed: list[str], session: Session) -> None:
    frozen, survivor = _presence(app, "frozen"), _presence(app, "survivor")
    took_over = RecordingSender()

    class FreezingSender(RecordingSender):
        """Sends the batch's first push, then its process is frozen (SIGSTOP) long enough
        to be found silent, while the survivor takes over and pushes; then it thaws."""

        def push(self, tokens: Sequence[str], *, topic: str,
                 send_while: SendWhile | None = None) -> list[PushResult]:
            first = super().push(tokens[:1], topic=topic, send_while=send_while)
            time.sleep(QUICK.total_seconds() + 0.2)
            survivor.run_once()  # found the frozen one silent: its leases are free
            assert _worker(app, took_over, survivor).run_once() == 2
            return first + super().push(tokens[1:], topic=topic, send_while=send_while)

    thawing = FreezingSender()
    assert _worker(app, thawing, frozen).run_once() == 2  # it claimed both

    [(first, _)] = thawing.pushes  # one push went before it froze, the other never
    assert sorted(took_over.tokens()) == changed  # the first one twice: it was on the wire
    assert _leases(session) == [("idle", None)] * 2
    assert took_over.overlaps == thawing.overlaps == []
    assert first in changed


def test_a_worker_sure_of_its_leases_only_for_most_of_the_silence_that_loses_them(
        app: Flask) -> None:
    presence = _presence(app, "pausing", stale=timedelta(seconds=0.8))
    owner = presence.worker_id
    assert presence.sure_to_send(owner)
    assert not presence.sure_to_send(owner + 1)
    time.sleep(0.65)  # past three quarters of the 0.8 s after which others reap it
    assert not presence.sure_to_send(owner)
    assert presence.holds(owner)  # asking the database: still its own, and beaten again
    assert presence.sure_to_send(owner)


def test_a_batch_whose_answers_could_not_be_recorded_is_freed_at_the_next_beat(
        app: Flask, changed: list[str], session: Session) -> None:
    presence = _presence(app, "failing")
    owner = presence.worker_id
    claimed = claim_due(session, limit=100, owner=owner)
    keys = [item.registration_id for item in claimed]
    with pytest.raises(ConnectionError), guard(presence, REGISTRATIONS, keys, owner) as ours:
        assert ours()
        raise ConnectionError("the database went away before the answers were recorded")
    assert _leases(session) == [("pending", owner)] * 2

    presence.run_once()

    assert _leases(session) == [("pending", None)] * 2
    sender = RecordingSender()
    assert _worker(app, sender, presence).run_once() == 2
    assert sorted(sender.tokens()) == changed


def test_a_worker_that_stops_leaves_the_workers_table_and_its_leases(
        app: Flask, changed: list[str], session: Session) -> None:
    presence = _presence(app, "stopping")
    claim_due(session, limit=1, owner=presence.worker_id)
    presence.close()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(WorkerProcess)) == 0
    assert _leases(session) == [("pending", None)] * 2


def test_a_worker_silent_for_less_than_the_limit_keeps_its_leases(
        app: Flask, changed: list[str], session: Session) -> None:
    quiet = _presence(app, "quiet", stale=timedelta(seconds=30))
    owner = quiet.worker_id
    claim_due(session, limit=100, owner=owner)
    session.execute(update(WorkerProcess).where(WorkerProcess.id == owner).values(
        heartbeat_at=utcnow() - timedelta(seconds=3)))
    session.commit()
    _presence(app, "watching", stale=timedelta(seconds=5)).run_once()
    assert _leases(session) == [("pending", owner)] * 2
