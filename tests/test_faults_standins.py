"""Apple's and Google's stand-ins slow, failing (500, 503, 429 with Retry-After), dropping
connections and going away while tills buy: every push and every Google update is retried
until it lands, none is lost, and each phone and each Google object ends on its card's
balance.

The suite's own cluster (``tests/fault_rig.py``), never the machine's main server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.apns_standin import SERVICE_UNAVAILABLE, TOO_MANY_REQUESTS, Answer
from tests.fault_rig import (
    GOOGLE_ISSUER,
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
from tests.google_standin import GoogleStandIn

pytestmark = pytest.mark.faults
__all__ = ["fault_cluster"]  # the fixture, imported for the tests below

CARDS = 10
INTERNAL_ERROR = Answer(500, "InternalServerError")


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as running_standin:
        yield running_standin


@pytest.fixture
def deployment(fault_cluster: Cluster, certs_dir: Path, tmp_path: Path,
               google: GoogleStandIn) -> Iterator[Deployment]:
    with running(fault_cluster, certs_dir, tmp_path, cards=CARDS, workers=2,
                 google=google) as deployed:
        _saved_by_everyone(deployed)
        yield deployed


def _saved_by_everyone(deployment: Deployment) -> None:
    """Every customer has saved their card in Google Wallet before the faults begin: only
    an object held in a wallet hears of its card's changes (``app.delivery.google``)."""
    engine = deployment.engine()

    def objects() -> int:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM google_objects")) or 0)

    wait_until(lambda: objects() == CARDS, 30, "every card's Google object written",
               deployment.logs_tail)
    with engine.begin() as connection:
        connection.execute(text("UPDATE google_objects SET saved_at = now()"))
    engine.dispose()


def _synced(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(text(
            "SELECT (SELECT count(*) FROM google_objects WHERE status <> 'synced')"
            " + (SELECT count(*) FROM google_classes WHERE status <> 'synced')"
            " + (SELECT count(*) FROM google_objects) - :cards"), {"cards": CARDS})
    return waiting == 0


def _google_findings(google: GoogleStandIn, deployment: Deployment, till: Till) -> list[str]:
    expected = till.expected_balances()
    findings = []
    for card in deployment.cards:
        stored = google.objects.get(f"{GOOGLE_ISSUER}.{card['serial_number']}")
        shown = stored["loyaltyPoints"]["balance"]["int"] if stored else None
        if shown != expected[card["id"]]:
            findings.append(f"card {card['id']}: Google shows {shown}, "
                            f"not {expected[card['id']]}")
    return findings


def test_slow_failing_and_vanishing_apple_and_google_lose_no_update(
        deployment: Deployment, google: GoogleStandIn) -> None:
    apple = deployment.apple
    phones = Phones(apple, deployment.origin, deployment.phones).start()
    till = Till(deployment.origin, deployment.api_key, deployment.cards, seed=429).start()
    try:
        time.sleep(2)
        apple.answer_delay = google.answer_delay = 0.3  # slow
        time.sleep(4)
        apple.answer_delay = google.answer_delay = 0.0
        apple.fail_for(3, SERVICE_UNAVAILABLE)
        google.fail_next(6, 503)
        time.sleep(4)
        apple.fail_next(8, Answer(429, TOO_MANY_REQUESTS.reason, retry_after=1))
        google.fail_next(6, 429, retry_after=1)
        time.sleep(4)
        apple.drop_after(2)  # the TCP connection, with the streams in flight
        google.drop_next(4)  # applied, never answered
        time.sleep(3)
        apple.go_away_after(5)
        apple.fail_for(2, INTERNAL_ERROR)
        google.fail_next(4, 500)
        time.sleep(4)
    finally:
        till.stop()
    engine = deployment.engine()
    settled = wait_until(
        lambda: delivered_everything(engine) and phones.idle and _synced(engine), 75,
        "every push delivered and downloaded, every Google object synced",
        deployment.logs_tail)
    phones.stop()

    failed_google = [request for request in google.requests if request.status >= 500
                     or request.status == 429]
    assert till.failures == [], deployment.logs_tail()
    assert ledger_findings(engine, till) == []
    assert phone_findings(phones, till) == []
    assert _google_findings(google, deployment, till) == []
    assert len(apple.requests) > len(apple.delivered)  # some pushes did fail, and were retried
    assert failed_google
    print(f"{len(till.acknowledged)} purchases acknowledged; APNs: {len(apple.requests)} "
          f"requests, {len(apple.delivered)} delivered, {apple.connections_opened} "
          f"connections; Google: {len(google.requests)} requests, {len(failed_google)} "
          f"failed; settled {settled:.1f} s after the last purchase")
    engine.dispose()
