"""A push token belongs to the registration (a pass on a device), not to the device: a
stranger who registers their own pass under someone's ``deviceLibraryIdentifier`` gets
the pushes of their own pass only. Driven through Apple's web service endpoints and the
stand-in APNs over HTTP/2; the migration copies each device's token to its registrations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (every table is in the metadata)
from app import create_app
from app.config import Config
from app.db import make_engine
from app.devices.models import Device, Registration
from app.merchants.service import create_merchant
from app.migrations import upgrade
from tests.apns_standin import UNREGISTERED, ApnsStandIn, write_test_certificates
from tests.conftest import POSTGRES_PROBLEM, POSTGRES_SERVER, Api, count_rows
from tests.push_helpers import install, register, wait_for
from tests.test_pos_api import buy

VICTIM, STRANGER, RENEWED = "a1" * 32, "5e" * 32, "b2" * 32
DEVICE = "victims-iphone-0001"


@pytest.fixture
def apns(tmp_path: Path, certs_dir: Path) -> Iterator[tuple[ApnsStandIn, Path]]:
    server = write_test_certificates(tmp_path)
    trusted = tmp_path / "trusted-clients.pem"
    trusted.write_bytes((certs_dir / "root.pem").read_bytes()
                        + (certs_dir / "wwdr.pem").read_bytes())
    standin = ApnsStandIn(certificate_file=server.server_certificate,
                          key_file=server.server_key, client_ca_file=trusted).start()
    yield standin, server.server_ca
    standin.stop()


@pytest.fixture
def pushing_app(config: Config, apns: tuple[ApnsStandIn, Path]) -> Iterator[Flask]:
    standin, server_ca = apns
    app = create_app(config.with_changes(worker="inline", apns_url=standin.origin,
                                         apns_ca_file=server_ca))
    yield app
    app.extensions["loyalpass"].stop_workers()
    app.extensions["loyalpass"].engine.dispose()


@pytest.fixture
def owner(pushing_app: Flask) -> Api:
    with pushing_app.extensions["loyalpass"].sessions() as session:
        created = create_merchant(session, name="Kava", email=f"{uuid.uuid4().hex}@k.io")
    return Api(pushing_app.test_client(), created.api_key)


def _card(owner: Api, email: str) -> dict[str, Any]:
    programs = owner.get("/api/v1/programs").get_json()["programs"]
    program = programs[0] if programs else owner.post("/api/v1/programs",
                                                       {"name": "Kava"}).get_json()
    body: dict[str, Any] = owner.post(f"/api/v1/programs/{program['id']}/cards",
                                      {"name": email, "email": email}).get_json()
    return body


def _tokens(standin: ApnsStandIn, since: int = 0) -> list[str]:
    return [request.token for request in standin.requests[since:]]


def _settle(app: Flask, standin: ApnsStandIn) -> int:
    """Wait until the pushes the enrolments led to are out; how many there were."""
    with app.extensions["loyalpass"].sessions() as session:
        wait_for(lambda: _all_idle(session), timeout=10)
    return len(standin.requests)


def test_a_stranger_registering_under_the_victims_device_gets_only_their_own_pushes(
    owner: Api, apns: tuple[ApnsStandIn, Path], pushing_app: Flask
) -> None:
    standin, _ = apns
    device: FlaskClient = owner.client
    victim, stranger = _card(owner, "victim@example.com"), _card(owner, "eve@example.com")
    assert register(device, install(device, victim), DEVICE, VICTIM) == 201

    # Eve knows the victim's deviceLibraryIdentifier and holds a pass of her own.
    assert register(device, install(device, stranger), DEVICE, STRANGER) == 201
    before = _settle(pushing_app, standin)
    assert buy(owner, victim, 10_000).status_code == 201
    wait_for(lambda: VICTIM in _tokens(standin, before), timeout=10)
    assert buy(owner, stranger, 10_000).status_code == 201
    wait_for(lambda: STRANGER in _tokens(standin, before), timeout=10)

    assert _tokens(standin, before) == [VICTIM, STRANGER]


def test_a_refused_strangers_token_removes_only_the_strangers_registration(
    owner: Api, apns: tuple[ApnsStandIn, Path], pushing_app: Flask
) -> None:
    standin, _ = apns
    device: FlaskClient = owner.client
    victim, stranger = _card(owner, "victim@example.com"), _card(owner, "eve@example.com")
    installed = install(device, victim)
    assert register(device, installed, DEVICE, VICTIM) == 201
    assert register(device, install(device, stranger), DEVICE, STRANGER) == 201
    before = _settle(pushing_app, standin)
    standin.answer(STRANGER, UNREGISTERED)

    buy(owner, stranger, 10_000)
    with pushing_app.extensions["loyalpass"].sessions() as session:
        wait_for(lambda: count_rows(session, Registration) == 1, timeout=10)
        assert count_rows(session, Device) == 1
    buy(owner, victim, 10_000)
    wait_for(lambda: VICTIM in _tokens(standin, before), timeout=10)

    assert _tokens(standin, before) == [STRANGER, VICTIM]
    listed = device.get(f"/passkit/v1/devices/{DEVICE}/registrations/{installed['type']}")
    assert listed.get_json()["serialNumbers"] == [installed["serial"]]


def test_wallet_registering_the_same_pass_again_moves_its_pushes_to_the_new_token(
    owner: Api, apns: tuple[ApnsStandIn, Path], pushing_app: Flask
) -> None:
    standin, _ = apns
    device: FlaskClient = owner.client
    card = _card(owner, "victim@example.com")
    installed = install(device, card)
    assert register(device, installed, DEVICE, VICTIM) == 201

    assert register(device, installed, DEVICE, RENEWED) == 200
    before = _settle(pushing_app, standin)
    buy(owner, card, 10_000)
    wait_for(lambda: len(standin.requests) > before, timeout=10)

    assert _tokens(standin, before) == [RENEWED]


def test_two_changed_passes_registered_with_one_token_still_make_one_push(
    owner: Api, apns: tuple[ApnsStandIn, Path], pushing_app: Flask
) -> None:
    standin, _ = apns
    device: FlaskClient = owner.client
    first, second = _card(owner, "one@example.com"), _card(owner, "two@example.com")
    runtime = pushing_app.extensions["loyalpass"]
    runtime.stop_workers()  # both changes must be waiting when the round starts
    assert register(device, install(device, first), DEVICE, VICTIM) == 201
    assert register(device, install(device, second), DEVICE, VICTIM) == 201
    buy(owner, first, 1_000)
    buy(owner, second, 1_000)

    from app.delivery.workers import make_workers

    for loop in make_workers(runtime, name="second-round"):
        loop.start()
    wait_for(lambda: bool(standin.requests), timeout=10)
    with runtime.sessions() as session:
        wait_for(lambda: _all_idle(session), timeout=10)

    assert _tokens(standin) == [VICTIM]


def _all_idle(session: Session) -> bool:
    """Every change fanned out and every registration pushed."""
    session.rollback()
    states = session.scalars(text("SELECT push_status FROM registrations")).all()
    waiting = session.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
    session.rollback()
    return set(states) == {"idle"} and waiting == 0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    if POSTGRES_PROBLEM is not None:
        pytest.skip(POSTGRES_PROBLEM)
    name = f"loyalpass_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{POSTGRES_SERVER}/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cards_as_of_0007(engine: Any) -> list[int]:
    """Two cards written as the schema stood at 0007, in SQL: the models describe the
    newest schema, whose later columns an old database does not have yet."""
    now = "CURRENT_TIMESTAMP"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO merchants (id, name, email, created_at)"
                                f" VALUES (1, 'Old', 'old@x.io', {now})"))
        connection.execute(text(
            "INSERT INTO programs (id, merchant_id, slug, name, kind, currency, earn_percent,"
            " point_value, welcome_points, tiers, reward_text, colors, locales, barcode_format,"
            " limits, triggers, max_redeem_percent, terms, design_version, created_at,"
            " updated_at) VALUES (1, 1, 'old', 'Old', 'points', 'USD', 0, 100, 0, '[]', '',"
            f" '{{}}', '[\"en\"]', 'qr', '{{}}', '[]', 100, '', 1, {now}, {now})"))
        for number, name in ((1, "a"), (2, "b")):
            connection.execute(text(
                "INSERT INTO customers (id, merchant_id, name, email, locale, marketing_consent,"
                f" created_at) VALUES (:id, 1, :name, :email, 'en', false, {now})"),
                {"id": number, "name": name, "email": f"{name}@example.com"})
            connection.execute(text(
                "INSERT INTO cards (id, merchant_id, program_id, customer_id, number,"
                " serial_number, authentication_token, link_version, status, balance, stamps,"
                " rewards, lifetime_spend, visits, pass_version, pass_updated_at,"
                " pass_last_modified, created_at) VALUES (:id, 1, 1, :id, :number, :serial,"
                f" :token, 0, 'active', 0, 0, 0, 0, 0, 1, {now}, {now}, {now})"),
                {"id": number, "number": f"00000000000{number}", "serial": f"serial-{number}",
                 "token": "t" * 43})
    return [1, 2]


def test_upgrading_gives_each_registration_the_token_its_device_had(
    empty_database: str,
) -> None:
    engine = make_engine(empty_database)
    upgrade(engine, "0007")
    card_ids = _cards_as_of_0007(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO devices (id, device_library_identifier, push_token, created_at,"
            " updated_at) VALUES (1, 'phone', :one, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
            " (2, 'tablet', :two, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"one": VICTIM, "two": RENEWED})
        connection.execute(text(
            "INSERT INTO registrations (device_id, card_id, created_at, push_status,"
            " push_generation, push_attempts) VALUES (1, :a, CURRENT_TIMESTAMP, 'idle', 0, 0),"
            " (1, :b, CURRENT_TIMESTAMP, 'pending', 2, 0),"
            " (2, :a, CURRENT_TIMESTAMP, 'idle', 0, 0)"), {"a": card_ids[0], "b": card_ids[1]})

    upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT device_id, card_id, push_token, push_status, push_generation"
            " FROM registrations ORDER BY id")).mappings().all()
        device_columns = connection.execute(text("SELECT * FROM devices")).keys()
    engine.dispose()
    assert [(row["device_id"], row["push_token"]) for row in rows] == [
        (1, VICTIM), (1, VICTIM), (2, RENEWED)]
    assert [(row["push_status"], row["push_generation"]) for row in rows] == [
        ("idle", 0), ("pending", 2), ("idle", 0)]
    assert "push_token" not in list(device_columns)
