"""Web processes and workers killed with SIGKILL at random (seeded) moments while tills buy
and phones are pushed, then started again: nothing a till was told is lost, nothing is
applied twice, every change reaches its phone, and each killed worker's leases are taken
over within seconds (``app.delivery.presence``), well before they would run out. A worker
frozen (SIGSTOP) long enough to be taken for dead, then thawed, pushes nothing another
took over: no device is pushed by two workers at once.

The suite's own cluster (``tests/fault_rig.py``), never the machine's main server."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.delivery.presence import STALE
from tests.fault_rig import (
    Cluster,
    Deployment,
    Phones,
    Till,
    delivered_everything,
    fault_cluster,
    ledger_findings,
    phone_findings,
    running,
    wait_until,
)

pytestmark = pytest.mark.faults
__all__ = ["fault_cluster"]  # the fixture, imported for the tests below

CARDS = 12
SEED = 1515


@pytest.fixture
def deployment(fault_cluster: Cluster, certs_dir: Path, tmp_path: Path
               ) -> Iterator[Deployment]:
    with running(fault_cluster, certs_dir, tmp_path, cards=CARDS, workers=2) as deployed:
        deployed.apple.answer_delay = 0.1  # pushes stay in flight: kills land mid-batch
        yield deployed


def _kill(deployment: Deployment, action: str, rng: random.Random) -> str:
    if action == "gunicorn worker" and deployment.web.children():
        os.kill(rng.choice(deployment.web.children()), signal.SIGKILL)  # gunicorn forks anew
        return action
    if action == "worker":
        worker = rng.choice(deployment.workers)
        worker.kill()
        time.sleep(rng.uniform(0.2, 1.5))
        worker.start()
        return worker.name
    deployment.web.kill()  # the master and its workers
    time.sleep(rng.uniform(0.2, 1.0))
    deployment.web.start()
    return "gunicorn"


def _workers_listed(engine: Engine) -> set[int]:
    """The processes ``workers`` holds as alive (``app.delivery.presence``)."""
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT pid FROM workers")))


def _alive(deployment: Deployment) -> set[int]:
    return {worker.popen.pid for worker in deployment.workers if worker.popen is not None}


def test_killing_web_processes_and_workers_at_random_loses_nothing_and_doubles_nothing(
        deployment: Deployment) -> None:
    rng = random.Random(SEED)
    phones = Phones(deployment.apple, deployment.origin, deployment.phones).start()
    till = Till(deployment.origin, deployment.api_key, deployment.cards, seed=SEED).start()
    actions = ["gunicorn worker"] * 3 + ["gunicorn"] * 2 + ["worker"] * 4
    rng.shuffle(actions)
    kills: list[str] = []
    engine = deployment.engine()
    frozen = deployment.workers[0]
    try:
        wait_until(lambda: len(_workers_listed(engine)) == 2, 60, "both workers joined",
                   deployment.logs_tail)
        time.sleep(1)
        frozen.freeze()  # mid-flow, holding whatever it leased
        time.sleep(STALE.total_seconds() + 3)
        frozen.thaw()
        for action in actions:
            time.sleep(rng.uniform(1.0, 3.0))
            kills.append(_kill(deployment, action, rng))
        deployment.wait_ready()
        time.sleep(2)  # purchases on the restarted processes too
    finally:
        till.stop()
    # The lease is 60 s: only a dead worker's leases taken over in seconds settle in time.
    settled = wait_until(lambda: delivered_everything(engine) and phones.idle, 40,
                         "every change pushed and downloaded", deployment.logs_tail)
    phones.stop()
    # Every killed worker that had joined was found silent and left the table.
    wait_until(lambda: _workers_listed(engine) == _alive(deployment), 20,
               "only the live workers listed", deployment.logs_tail)

    assert till.failures == [], deployment.logs_tail()
    assert ledger_findings(engine, till) == []
    assert phone_findings(phones, till) == []
    assert deployment.apple.overlapping() == []
    assert "silent too long" in frozen.log.read_text(errors="replace")  # it joined anew
    print(f"kills {kills}; {len(till.acknowledged)} purchases acknowledged, answers "
          f"{till.answers}, {phones.downloads} downloads, settled {settled:.1f} s after the "
          "last purchase")
    engine.dispose()
