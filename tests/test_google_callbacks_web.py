"""Google Wallet's save and delete callbacks through ``POST /google/callback``, on SQLite and
PostgreSQL, with Google's root keys served by a loopback HTTPS stand-in.

Callbacks are signed exactly as Google signs them (ECv2SigningOnly) with the test's own root
key; the app fetches that key from the stand-in as it would fetch Google's.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from app.cards.models import Card
from app.clock import utcnow
from app.config import Config
from app.google_wallet.callbacks import install_counts, record_callback
from app.google_wallet.keys import GoogleRootKeys
from app.google_wallet.models import GoogleEvent, GoogleObject
from passes.google.callbacks import Callback, EventType, sign_callback
from tests.conftest import Api, count_rows, new_merchant
from tests.google_helpers import make_service_account, write_google_json
from tests.google_keys_standin import RootKeysStandIn

ISSUER_ID = "3388000000012345678"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def root_key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture
def keys_server(tmp_path: Path, root_key: ec.EllipticCurvePrivateKey
                ) -> Iterator[RootKeysStandIn]:
    standin = RootKeysStandIn(tmp_path).start()
    standin.serve([root_key], now_ms() + DAY_MS)
    yield standin
    standin.stop()


@pytest.fixture
def config(config: Config, keys_server: RootKeysStandIn, tmp_path: Path) -> Config:
    """The suite's configuration with Google on: its own certs folder holding google.json,
    and the root keys fetched from the stand-in."""
    certs = tmp_path / "certs"
    shutil.copytree(config.certs_dir, certs)
    info, _ = make_service_account("https://127.0.0.1:9/token")
    write_google_json(certs, info)
    return config.with_changes(google_issuer_id=ISSUER_ID, google_keys_url=keys_server.url,
                               google_ca_file=keys_server.ca_file, certs_dir=certs)


def message(object_id: str, event_type: str = "save", **overrides: Any) -> dict[str, Any]:
    """The event as Google puts it in ``signedMessage``."""
    return {"classId": f"{ISSUER_ID}.loyalpass-program-1", "objectId": object_id,
            "expTimeMillis": now_ms() + HOUR_MS, "eventType": event_type,
            "nonce": uuid.uuid4().hex, **overrides}


def signed(root_key: ec.EllipticCurvePrivateKey, event: dict[str, Any], *,
           recipient_id: str = ISSUER_ID) -> dict[str, Any]:
    return sign_callback(event, root_private_key=root_key, intermediate_private_key=new_key(),
                         recipient_id=recipient_id, intermediate_expires_ms=now_ms() + DAY_MS)


def post(client: FlaskClient, body: dict[str, Any] | bytes) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/google/callback", data=data, content_type="application/json")


def object_state(session: Session, card: dict[str, Any]) -> tuple[Any, Any]:
    """The card's object ``(saved_at, removed_at)``, read in a transaction that ends at once
    (a rollback expires the row, and reading it later would start another)."""
    session.rollback()
    try:
        row = session.get(GoogleObject, card["id"], populate_existing=True)
        assert row is not None
        return row.saved_at, row.removed_at
    finally:
        session.rollback()


@pytest.fixture
def object_id(session: Session, program: dict[str, Any], card: dict[str, Any]) -> str:
    value = f"{ISSUER_ID}.{card['serial_number']}"
    if session.get(GoogleObject, card["id"]) is None:
        session.add(GoogleObject(card_id=card["id"], program_id=program["id"], object_id=value))
    session.commit()
    return value


def events(session: Session) -> list[Any]:
    """Every recorded event as plain rows, read in a transaction that ends at once."""
    session.rollback()
    try:
        return list(session.execute(
            select(GoogleEvent.nonce, GoogleEvent.event_type, GoogleEvent.card_id,
                   GoogleEvent.merchant_id, GoogleEvent.object_id).order_by(GoogleEvent.id)))
    finally:
        session.rollback()


def test_a_signed_save_records_an_install_and_marks_the_object_saved(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str, card: dict[str, Any]) -> None:
    event = message(object_id, "save")
    response = post(client, signed(root_key, event))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"recorded": True}
    [recorded] = events(session)
    assert (recorded.nonce, recorded.event_type, recorded.card_id, recorded.object_id) == (
        event["nonce"], "save", card["id"], object_id)
    assert recorded.merchant_id is not None
    saved_at, removed_at = object_state(session, card)
    assert saved_at is not None and removed_at is None


def test_the_same_nonce_again_is_recorded_once(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str) -> None:
    event = message(object_id, "save")
    assert post(client, signed(root_key, event)).get_json() == {"recorded": True}
    again = post(client, signed(root_key, event))  # Google re-signs a retried delivery
    assert again.status_code == 200
    assert again.get_json() == {"recorded": False}
    assert count_rows(session, GoogleEvent) == 1


def test_a_delete_marks_the_object_removed_and_a_later_save_restores_it(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str, card: dict[str, Any]) -> None:
    assert post(client, signed(root_key, message(object_id, "save"))).status_code == 200
    assert post(client, signed(root_key, message(object_id, "del"))).status_code == 200
    saved_at, removed_at = object_state(session, card)
    assert removed_at is not None and saved_at is not None
    assert post(client, signed(root_key, message(object_id, "save"))).status_code == 200
    assert object_state(session, card)[1] is None
    assert [event.event_type for event in events(session)] == ["save", "del", "save"]


def _wrong_recipient(key: ec.EllipticCurvePrivateKey, object_id: str) -> dict[str, Any]:
    return signed(key, message(object_id), recipient_id="3388000000099999999")


def _tampered(key: ec.EllipticCurvePrivateKey, object_id: str) -> dict[str, Any]:
    body = signed(key, message(object_id, "del"))
    body["signedMessage"] = body["signedMessage"].replace('"del"', '"save"')
    return body


def _expired(key: ec.EllipticCurvePrivateKey, object_id: str) -> dict[str, Any]:
    return signed(key, message(object_id, expTimeMillis=now_ms() - 1000))


def _signed_by_a_stranger(_key: ec.EllipticCurvePrivateKey, object_id: str) -> dict[str, Any]:
    return signed(new_key(), message(object_id))


@pytest.mark.parametrize("forge", [_wrong_recipient, _tampered, _expired, _signed_by_a_stranger],
                         ids=["wrong-recipient", "tampered", "expired", "unknown-root-key"])
def test_an_untrustworthy_callback_is_refused_with_400_and_writes_nothing(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str, card: dict[str, Any], forge: Any) -> None:
    response = post(client, forge(root_key, object_id))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_callback"
    assert count_rows(session, GoogleEvent) == 0
    assert object_state(session, card) == (None, None)


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"protocolVersion": "ECv1"}', b"", b"[" * 30_000 + b"]" * 30_000,
], ids=["not-json", "not-an-object", "wrong-protocol", "empty", "nested-30000-deep"])
def test_a_malformed_body_is_refused_with_400(client: FlaskClient, session: Session,
                                              body: bytes) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_callback"
    assert count_rows(session, GoogleEvent) == 0


def test_a_lone_surrogate_in_the_signed_message_is_refused_with_400(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str) -> None:
    body = signed(root_key, message(object_id))  # a genuine intermediate key gets it past
    body["signedMessage"] = body["signedMessage"][:-1] + '"\ud800"}'  # sent as \ud800
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_callback"
    assert count_rows(session, GoogleEvent) == 0


def test_a_signed_message_with_a_nul_is_refused_with_400_on_both_databases(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str, card: dict[str, Any]) -> None:
    response = post(client, signed(root_key, message(object_id + "\x00")))
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_callback"
    assert count_rows(session, GoogleEvent) == 0
    assert object_state(session, card) == (None, None)


def test_a_body_over_64_kib_is_refused_with_413(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str) -> None:
    body = signed(root_key, message(object_id))
    body["padding"] = "x" * (64 * 1024)
    response = post(client, body)
    assert response.status_code == 413
    assert count_rows(session, GoogleEvent) == 0


def test_an_overlong_nonce_is_refused_with_400_on_every_database(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey,
        object_id: str) -> None:
    response = post(client, signed(root_key, message(object_id, nonce="n" * 201)))
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_callback"
    assert count_rows(session, GoogleEvent) == 0


def test_callbacks_answer_404_when_google_wallet_is_off(
        config: Config, root_key: ec.EllipticCurvePrivateKey) -> None:
    app = create_app(config.with_changes(google_issuer_id=None))
    try:
        response = post(app.test_client(), signed(root_key, message(f"{ISSUER_ID}.x")))
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert "loyalpass_google_keys" not in app.extensions
    finally:
        app.extensions["loyalpass"].engine.dispose()


def test_a_callback_for_an_unknown_object_is_still_recorded_without_a_card(
        client: FlaskClient, session: Session, root_key: ec.EllipticCurvePrivateKey) -> None:
    event = message(f"{ISSUER_ID}.no-such-card", "save")
    response = post(client, signed(root_key, event))
    assert response.get_json() == {"recorded": True}
    [recorded] = events(session)
    assert (recorded.card_id, recorded.merchant_id) == (None, None)
    assert recorded.object_id == f"{ISSUER_ID}.no-such-card"


def test_a_callback_signed_by_a_rotated_root_key_is_accepted_after_one_refetch(
        client: FlaskClient, session: Session, keys_server: RootKeysStandIn,
        root_key: ec.EllipticCurvePrivateKey, object_id: str) -> None:
    assert post(client, signed(root_key, message(object_id))).status_code == 200
    assert keys_server.fetches == 1  # cached from now on
    rotated = new_key()
    keys_server.serve([rotated], now_ms() + DAY_MS)
    response = post(client, signed(rotated, message(object_id, "del")))
    assert response.status_code == 200, response.get_json()
    assert keys_server.fetches == 2
    assert post(client, signed(rotated, message(object_id))).status_code == 200
    assert keys_server.fetches == 2
    assert count_rows(session, GoogleEvent) == 3


def test_refused_callbacks_refetch_the_keys_at_most_once_a_minute(
        client: FlaskClient, keys_server: RootKeysStandIn,
        root_key: ec.EllipticCurvePrivateKey, object_id: str) -> None:
    for _ in range(5):
        assert post(client, _tampered(root_key, object_id)).status_code == 400
    assert keys_server.fetches == 2  # the first load and one re-fetch


def test_a_callback_answers_503_and_writes_nothing_when_the_keys_cannot_be_fetched(
        client: FlaskClient, session: Session, keys_server: RootKeysStandIn,
        root_key: ec.EllipticCurvePrivateKey, object_id: str, card: dict[str, Any]) -> None:
    keys_server.fail()
    response = post(client, signed(root_key, message(object_id)))
    assert response.status_code == 503
    assert response.get_json()["code"] == "google_keys_unavailable"
    assert count_rows(session, GoogleEvent) == 0
    assert object_state(session, card) == (None, None)
    keys_server.serve([root_key], now_ms() + DAY_MS)  # Google's retry, once the keys are back
    assert post(client, signed(root_key, message(object_id))).status_code == 200


def test_cached_keys_stay_in_use_when_a_scheduled_refetch_fails(
        keys_server: RootKeysStandIn, root_key: ec.EllipticCurvePrivateKey) -> None:
    moment = [0.0]
    keys = GoogleRootKeys(keys_server.url, ca_file=keys_server.ca_file, ttl=3600,
                          clock=lambda: moment[0])
    first = keys.current(now_ms())
    keys_server.fail()
    moment[0] = 3601.0
    assert keys.current(now_ms()) is first
    assert keys.current(now_ms()) is first
    assert keys_server.fetches == 2  # the failed attempt is not repeated on every call
    moment[0] = 3601.0 + 61
    keys_server.serve([root_key], now_ms() + DAY_MS)
    assert keys.current(now_ms()) is not first
    keys.close()


def test_concurrent_deliveries_of_one_event_record_it_once(
        app: Flask, session: Session, object_id: str) -> None:
    callback = Callback(class_id=f"{ISSUER_ID}.c", object_id=object_id, event_type="save",
                        nonce=uuid.uuid4().hex, expires_at_ms=now_ms() + HOUR_MS)
    sessions = app.extensions["loyalpass"].sessions
    barrier, results = threading.Barrier(4), []

    def deliver() -> None:
        with sessions() as own:
            barrier.wait()
            results.append(record_callback(own, callback=callback))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert count_rows(session, GoogleEvent) == 1


def _record(session: Session, object_id: str, event_type: EventType) -> None:
    record_callback(session, callback=Callback(
        class_id=f"{ISSUER_ID}.c", object_id=object_id, event_type=event_type,
        nonce=uuid.uuid4().hex, expires_at_ms=now_ms() + HOUR_MS))


def test_install_counts_are_distinct_cards_per_merchant_and_program(
        client: FlaskClient, session: Session, api: Api, program: dict[str, Any],
        card: dict[str, Any], object_id: str) -> None:
    other_card = api.post(f"/api/v1/programs/{program['id']}/cards",
                          {"name": "Taras", "email": "taras@example.com"}).get_json()
    other_program = api.post("/api/v1/programs", {"name": "Tea Club"}).get_json()
    tea_card = api.post(f"/api/v1/programs/{other_program['id']}/cards",
                        {"name": "Iryna", "email": "iryna@example.com"}).get_json()
    stranger = new_merchant(client, session, name="Other Shop")
    stranger_program = stranger.post("/api/v1/programs", {"name": "Pizza"}).get_json()
    stranger_card = stranger.post(f"/api/v1/programs/{stranger_program['id']}/cards",
                                  {"name": "Ola", "email": "ola@example.com"}).get_json()
    ids = {}
    for owner, item in ((program, other_card), (other_program, tea_card),
                        (stranger_program, stranger_card)):
        ids[item["id"]] = f"{ISSUER_ID}.{item['serial_number']}"
        session.add(GoogleObject(card_id=item["id"], program_id=owner["id"],
                                 object_id=ids[item["id"]]))
    session.commit()
    for event_type in ("save", "del", "save"):  # one customer, saved twice: one install
        _record(session, object_id, event_type)
    _record(session, ids[other_card["id"]], "save")
    _record(session, ids[tea_card["id"]], "save")
    _record(session, ids[stranger_card["id"]], "save")
    _record(session, f"{ISSUER_ID}.unknown", "save")
    ours = session.scalars(select(Card.merchant_id).where(Card.id == card["id"])).one()
    assert install_counts(session, merchant_id=ours) == {"installs": 3, "removals": 1}
    assert install_counts(session, merchant_id=ours, program_id=program["id"]) == {
        "installs": 2, "removals": 1}
    assert install_counts(session, merchant_id=ours, program_id=other_program["id"]) == {
        "installs": 1, "removals": 0}
    assert install_counts(session, merchant_id=ours, since=utcnow() + timedelta(minutes=1)) == {
        "installs": 0, "removals": 0}
    session.rollback()
