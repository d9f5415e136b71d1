"""Installs and removals per wallet: a row in ``wallet_events`` whenever a card enters or
leaves Apple Wallet or Google Wallet, written in the transaction of the change."""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics.models import WalletEvent
from app.cards.models import Card
from app.delivery.pushes import Worker
from app.google_wallet.callbacks import record_callback
from app.google_wallet.models import GoogleObject
from passes.google.callbacks import Callback, EventType
from tests.conftest import Api
from tests.push_helpers import RecordingSender, install, register
from tests.test_pos_api import buy

TOKEN_A, TOKEN_B = "aa" * 32, "bb" * 32
ISSUER = "3388000000012345678"


def wallet_events(session: Session) -> list[tuple[int, str, str]]:
    """``(card_id, wallet, kind)`` of every event, oldest first."""
    session.rollback()
    try:
        rows = session.execute(select(WalletEvent.card_id, WalletEvent.wallet, WalletEvent.kind)
                               .order_by(WalletEvent.id))
        return [(row.card_id, row.wallet, row.kind) for row in rows]
    finally:
        session.rollback()


def unregister(client: FlaskClient, installed: dict[str, Any], device: str) -> int:
    response = client.delete(
        f"/passkit/v1/devices/{device}/registrations/{installed['type']}/{installed['serial']}",
        headers={"Authorization": f"ApplePass {installed['token']}"})
    status: int = response.status_code
    return status


def test_the_first_device_is_an_apple_install_and_a_second_device_is_not_another(
        client: FlaskClient, session: Session, card: dict[str, Any]) -> None:
    installed = install(client, card)
    assert register(client, installed, "device-a", TOKEN_A) == 201
    assert register(client, installed, "device-a", TOKEN_B) == 200  # a new token, same device
    assert register(client, installed, "device-b", TOKEN_B) == 201
    assert wallet_events(session) == [(card["id"], "apple", "installed")]


def test_the_pass_leaves_apple_wallet_when_its_last_device_unregisters(
        client: FlaskClient, session: Session, card: dict[str, Any]) -> None:
    installed = install(client, card)
    register(client, installed, "device-a", TOKEN_A)
    register(client, installed, "device-b", TOKEN_B)
    assert unregister(client, installed, "device-a") == 200
    assert wallet_events(session) == [(card["id"], "apple", "installed")]
    assert unregister(client, installed, "device-b") == 200
    assert unregister(client, installed, "device-b") == 200  # again: nothing more to remove
    assert wallet_events(session) == [(card["id"], "apple", "installed"),
                                      (card["id"], "apple", "removed")]


def test_a_dead_token_apns_refuses_removes_the_pass_from_apple_wallet_once(
        app: Flask, api: Api, client: FlaskClient, session: Session,
        card: dict[str, Any]) -> None:
    installed = install(client, card)
    register(client, installed, "device-a", TOKEN_A)
    register(client, installed, "device-b", TOKEN_B)
    buy(api, card, 1_000)
    runtime = app.extensions["loyalpass"]
    worker = Worker(sessions=runtime.sessions, topic=runtime.wallet.pass_type_identifier,
                    sender=RecordingSender({TOKEN_A: "unregistered", TOKEN_B: "bad_token"}))
    while worker.run_once():
        pass
    assert wallet_events(session) == [(card["id"], "apple", "installed"),
                                      (card["id"], "apple", "removed")]


def test_a_dead_token_of_one_device_leaves_the_pass_installed_on_the_other(
        app: Flask, api: Api, client: FlaskClient, session: Session,
        card: dict[str, Any]) -> None:
    installed = install(client, card)
    register(client, installed, "device-a", TOKEN_A)
    register(client, installed, "device-b", TOKEN_B)
    buy(api, card, 1_000)
    runtime = app.extensions["loyalpass"]
    worker = Worker(sessions=runtime.sessions, topic=runtime.wallet.pass_type_identifier,
                    sender=RecordingSender({TOKEN_A: "unregistered"}))
    while worker.run_once():
        pass
    assert wallet_events(session) == [(card["id"], "apple", "installed")]


def _google(session: Session, object_id: str, event_type: EventType) -> None:
    record_callback(session, callback=Callback(
        class_id=f"{ISSUER}.c", object_id=object_id, event_type=event_type,
        nonce=uuid.uuid4().hex, expires_at_ms=int(time.time() * 1000) + 3_600_000))


def test_google_saves_and_deletes_are_installs_and_removals_only_when_the_state_changes(
        session: Session, program: dict[str, Any], card: dict[str, Any]) -> None:
    object_id = f"{ISSUER}.{card['serial_number']}"
    session.add(GoogleObject(card_id=card["id"], program_id=program["id"], object_id=object_id))
    session.commit()
    for event_type in ("save", "save", "del", "del", "save"):
        _google(session, object_id, event_type)
    assert wallet_events(session) == [(card["id"], "google", "installed"),
                                      (card["id"], "google", "removed"),
                                      (card["id"], "google", "installed")]


def test_a_wallet_event_carries_the_cards_merchant_program_and_location(
        api: Api, client: FlaskClient, session: Session, program: dict[str, Any]) -> None:
    location = api.post(f"/api/v1/programs/{program['id']}/locations",
                        {"name": "Podil"}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com",
                     "location_id": location["id"]}).get_json()
    register(client, install(client, card), "device-a", TOKEN_A)
    session.rollback()
    row = session.execute(select(WalletEvent.merchant_id, WalletEvent.program_id,
                                 WalletEvent.location_id)).one()
    owner = session.scalar(select(Card.merchant_id).where(Card.id == card["id"]))
    assert (row.merchant_id, row.program_id, row.location_id) == (
        owner, program["id"], location["id"])
