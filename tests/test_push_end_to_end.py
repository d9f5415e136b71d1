"""From a purchase to the phone, over real HTTP/2: the stand-in APNs receives the push,
the device then lists the serial and downloads the pass with the new balance. Faults:
APNs answering 503 for a while, and a worker killed with SIGKILL in the middle of a
fan-out, lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.config import Config
from app.merchants.service import create_merchant
from tests.apns_standin import ApnsStandIn, write_test_certificates
from tests.conftest import Api
from tests.push_helpers import install, register, wait_for
from tests.test_pos_api import buy
from tests.wallet_helpers import pass_json

TOKEN = "c0ffee" * 10 + "abcd"


@pytest.fixture
def standin(tmp_path: Path, certs_dir: Path) -> Iterator[tuple[ApnsStandIn, Path]]:
    """A stand-in APNs that trusts the service's (development) pass certificate chain."""
    server = write_test_certificates(tmp_path)
    trusted = tmp_path / "trusted-clients.pem"
    trusted.write_bytes((certs_dir / "root.pem").read_bytes()
                        + (certs_dir / "wwdr.pem").read_bytes())
    apns = ApnsStandIn(certificate_file=server.server_certificate, key_file=server.server_key,
                       client_ca_file=trusted).start()
    yield apns, server.server_ca
    apns.stop()


@pytest.fixture
def live_app(config: Config, standin: tuple[ApnsStandIn, Path]) -> Iterator[Flask]:
    apns, server_ca = standin
    app = create_app(config.with_changes(worker="inline", apns_url=apns.origin,
                                         apns_ca_file=server_ca))
    yield app
    app.extensions["loyalpass"].stop_workers()


def _owner(app: Flask) -> Api:
    with app.extensions["loyalpass"].sessions() as session:
        created = create_merchant(session, name="Push", email=f"{uuid.uuid4().hex}@p.io")
    return Api(app.test_client(), created.api_key)


def test_a_purchase_reaches_the_device_and_its_next_download_shows_the_balance(
    live_app: Flask, standin: tuple[ApnsStandIn, Path]
) -> None:
    apns, _ = standin
    owner = _owner(live_app)
    device = live_app.test_client()
    program = owner.post("/api/v1/programs", {"name": "Push", "earn_percent": 10}).get_json()
    card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": "P", "email": "p@example.com"}).get_json()
    installed = install(device, card)
    assert register(device, installed, "iphone-1", TOKEN) == 201
    listing = f"/passkit/v1/devices/iphone-1/registrations/{installed['type']}"
    tag = device.get(listing).get_json()["lastUpdated"]

    assert buy(owner, card, 50_000).status_code == 201  # 10 % of 500.00: 50 points

    wait_for(lambda: any(r.token == TOKEN for r in apns.requests), timeout=10)
    push = next(r for r in apns.requests if r.token == TOKEN)
    assert push.headers["apns-topic"] == installed["type"]
    assert push.body == b"{}"
    assert "Pass Type ID" in push.client_subject
    changed = device.get(listing, query_string={"passesUpdatedSince": tag}).get_json()
    assert changed["serialNumbers"] == [installed["serial"]]
    fresh = device.get(f"/passkit/v1/passes/{installed['type']}/{installed['serial']}",
                       headers={"Authorization": f"ApplePass {installed['token']}"})
    header = pass_json(fresh.data)["storeCard"]["primaryFields"][0]
    assert header["key"] == "balance" and header["value"] == 50


def test_apns_answering_503_for_a_while_delays_but_does_not_lose_the_push(
    live_app: Flask, standin: tuple[ApnsStandIn, Path]
) -> None:
    apns, _ = standin
    owner = _owner(live_app)
    device = live_app.test_client()
    program = owner.post("/api/v1/programs", {"name": "Flaky"}).get_json()
    card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": "F", "email": "f@example.com"}).get_json()
    register(device, install(device, card), "iphone-2", TOKEN)
    apns.fail_for(2.5)
    buy(owner, card, 1_000)
    wait_for(lambda: any(r.token == TOKEN for r in apns.requests), timeout=10)
    wait_for(lambda: owner.get("/api/v1/pushes").get_json()["delivered"] == 1, timeout=20)
    statuses = [r for r in apns.requests if r.token == TOKEN]
    assert len(statuses) >= 2  # refused at least once, then delivered


def _seed_many_devices(app: Flask, count: int) -> dict[str, Any]:
    owner = _owner(app)
    device = app.test_client()
    program = owner.post("/api/v1/programs", {"name": "Crowd"}).get_json()
    card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": "C", "email": "c@example.com"}).get_json()
    installed = install(device, card)
    tokens = [f"{n:064x}" for n in range(count)]
    for number, token in enumerate(tokens):
        register(device, installed, f"device-{number}", token)
    return {"owner": owner, "card": card, "tokens": tokens}


def test_a_worker_killed_mid_fan_out_loses_nothing(
    config: Config, standin: tuple[ApnsStandIn, Path], certs_dir: Path
) -> None:
    apns, server_ca = standin
    apns.answer_delay = 5.0  # the worker is waiting for Apple's answers when it dies
    app = create_app(config)  # external worker mode: nothing pushes in this process
    seeded = _seed_many_devices(app, 300)
    owner = seeded["owner"]
    buy(owner, seeded["card"], 1_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALPASS_")}
    env.update({
        "LOYALPASS_DATABASE_URL": config.database_url, "LOYALPASS_ENV": "production",
        "LOYALPASS_SECRET_KEY": config.secret_key, "LOYALPASS_CERTS_DIR": str(certs_dir),
        "LOYALPASS_BASE_URL": config.base_url, "LOYALPASS_APNS_URL": apns.origin,
        "LOYALPASS_APNS_CA_FILE": str(server_ca), "LOYALPASS_WORKER": "external",
        "LOYALPASS_PUSH_LEASE_SECONDS": "2",
    })
    command = [sys.executable, "-m", "app.cli", "worker"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: len(apns.requests) >= 20, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert owner.get("/api/v1/pushes").get_json()["delivered"] == 0  # none recorded
        apns.answer_delay = 0.0
        killed_at = len(apns.requests)
        second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_for(lambda: {r.token for r in apns.requests[killed_at:]} >= set(seeded["tokens"]),
                 timeout=60)
        wait_for(lambda: owner.get("/api/v1/pushes").get_json()["delivered"] == 300,
                 timeout=30)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0  # SIGTERM: finish the batch, then exit cleanly
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
        app.extensions["loyalpass"].engine.dispose()
    assert owner.get("/api/v1/pushes").get_json()["pending"] == 0
