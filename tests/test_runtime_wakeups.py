"""Each running app wakes its own worker loops: two apps in one process (two tests, a web
app beside a worker) share the database but not their wake-ups, so a commit in one
app's request wakes that app's loops and leaves the other's waiting for their poll."""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Flask

from app import create_app
from app.config import Config
from app.delivery.loop import LINGER, Loop
from app.delivery.workers import make_workers
from tests.conftest import Api
from tests.push_helpers import RecordingSender, install, register, wait_for

TOKEN = "cd" * 32
POLL = 60.0  # seconds: far beyond the test, so only a wake-up makes a loop look


class Watching(Loop):
    """A loop that only counts its wake-ups (a worker's, which does nothing else)."""

    name = "watching"
    poll_interval = POLL

    def __init__(self) -> None:
        super().__init__()
        self.woken = 0

    def run_once(self) -> int:
        return 0

    def wake(self) -> None:
        self.woken += 1
        super().wake()


def _start(app: Flask, sender: RecordingSender, *also: Loop) -> list[Loop]:
    runtime = app.extensions["loyalpass"]
    loops = make_workers(runtime, push_sender=sender, name="wakeups")
    for loop in also:
        loop.wakeups = runtime.wakeups  # as ``make_workers`` does
        loops.append(loop)
    for loop in loops:
        loop.poll_interval = POLL
        loop.start()
    return loops


def test_a_change_in_one_app_is_pushed_by_its_own_worker_and_never_wakes_another_apps(
        app: Flask, api: Api, card: dict[str, Any], config: Config) -> None:
    assert register(api.client, install(api.client, card), "phone", TOKEN) == 201
    other = create_app(config)
    ours, theirs = RecordingSender(), RecordingSender()
    watching_ours, watching_theirs = Watching(), Watching()
    loops = _start(app, ours, watching_ours) + _start(other, theirs, watching_theirs)
    try:
        wait_for(lambda: len(ours.tokens()) + len(theirs.tokens()) == 1)  # the enrolment
        time.sleep(3 * LINGER)  # every loop idle on its long wait
        pushed_here, pushed_there = len(ours.tokens()), len(theirs.tokens())
        woken_here, woken_there = watching_ours.woken, watching_theirs.woken

        answer = api.post(f"/api/v1/cards/{card['id']}/adjustments",
                          {"points": 5, "reason": "goodwill"},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 201, answer.get_json()

        wait_for(lambda: len(ours.tokens()) == pushed_here + 1)  # well before the poll
        time.sleep(3 * LINGER)
        assert ours.tokens()[pushed_here:] == [TOKEN]
        assert watching_ours.woken > woken_here
        assert watching_theirs.woken == woken_there  # the other app's loops slept on
        assert len(theirs.tokens()) == pushed_there
    finally:
        for loop in loops:
            loop.stop()
        for loop in loops:
            loop.join(15)
        other.extensions["loyalpass"].engine.dispose()
