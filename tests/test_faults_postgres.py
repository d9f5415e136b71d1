"""PostgreSQL restarted, and crashed, while tills buy over HTTP (gunicorn) and workers push
(``loyalpass worker`` against the APNs stand-in): the service recovers by itself, no
purchase is half-written, every purchase a till got a 2xx for is in the ledger once, and
every phone ends up showing its card's balance (pushed after the last change).

The suite's own cluster (``tests/fault_rig.py``), never the machine's main server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def deployment(fault_cluster: Cluster, certs_dir: Path, tmp_path: Path
               ) -> Iterator[Deployment]:
    with running(fault_cluster, certs_dir, tmp_path, cards=CARDS, workers=1) as deployed:
        yield deployed


def test_restarting_and_crashing_postgresql_loses_no_purchase_and_no_push(
        deployment: Deployment, fault_cluster: Cluster) -> None:
    phones = Phones(deployment.apple, deployment.origin, deployment.phones).start()
    till = Till(deployment.origin, deployment.api_key, deployment.cards, seed=15).start()
    try:
        time.sleep(4)
        fault_cluster.restart()  # clean: every connection ended, down for a moment
        time.sleep(4)
        fault_cluster.crash(down=1.5)  # no checkpoint: crash recovery at start
        time.sleep(4)
        fault_cluster.restart()
        time.sleep(3)
    finally:
        till.stop()
    engine = deployment.engine()
    settled = wait_until(lambda: delivered_everything(engine) and phones.idle, 45,
                         "every change pushed and downloaded", deployment.logs_tail)
    phones.stop()

    assert till.failures == [], deployment.logs_tail()
    assert len(till.acknowledged) > 30
    assert any(purchase.attempts > 1 for purchase in till.acknowledged)  # it did go down
    assert ledger_findings(engine, till) == []
    assert phone_findings(phones, till) == []
    assert deployment.web.alive and all(worker.alive for worker in deployment.workers)
    print(f"{len(till.acknowledged)} purchases acknowledged, answers {till.answers}, "
          f"{phones.downloads} downloads, settled {settled:.1f} s after the last purchase")
    engine.dispose()
