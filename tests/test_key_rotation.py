"""Rotating the secret key: with the old key listed as previous, everything handed out
under it keeps working, everything new carries the new key, and the passes handed out
are re-signed and pushed at the operator's pace; once the old key is dropped, only its
old barcodes and links stop working."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.cards.models import Card, SigningKey
from app.cards.numbers import barcode_message
from app.cards.rotation import ROLLOUT_GRACE, progress, resign_round
from app.cli import main
from app.clock import utcnow
from app.config import Config, ConfigError
from app.delivery.pushes import Worker
from app.secret_keys import SecretKeys
from tests.conftest import Api
from tests.dashboard_helpers import csrf_of, link_in, merchant_with_owner, send_mails, signed_in
from tests.push_helpers import RecordingSender, install, register
from tests.test_pos_api import buy
from tests.wallet_helpers import pass_json

KEY_A = "test-secret-key-0123456789abcdef"  # the suite's config fixture's key
KEY_B = "rotated-key-B-fedcba9876543210"
KEYS_B = SecretKeys(KEY_B, (KEY_A,))


@pytest.fixture
def switched(config: Config) -> Iterator[Callable[..., Flask]]:
    """Starts the service again on the same database with other keys, as an operator
    restarting every process would; each app is closed after the test."""
    apps: list[Flask] = []

    def start(current: str, *previous: str) -> Flask:
        app = create_app(config.with_changes(secret_key=current,
                                             previous_secret_keys=previous))
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.extensions["loyalpass"].engine.dispose()


def _lookup(client: FlaskClient, key: str, barcode: str) -> Any:
    return client.post("/api/v1/pos/lookup", json={"barcode": barcode},
                       headers={"Authorization": f"Bearer {key}"})


def _card_now(client: FlaskClient, key: str, card_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cards/{card_id}",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def _path(url: str) -> str:
    return urlsplit(url).path


def test_after_the_switch_old_barcodes_links_and_sessions_work_and_new_ones_carry_the_new_key(
    app: Flask, api: Api, card: dict[str, Any], session: Session,
    switched: Callable[..., Flask],
) -> None:
    owner = merchant_with_owner(session, "Salon Lux")
    dashboard = signed_in(app, owner.owner_email)
    form_token = csrf_of(dashboard, "/dashboard/")  # a page left open across the switch
    old_barcode, old_link = card["barcode"]["message"], card["card_url"]
    assert old_barcode == barcode_message(card["number"], KEY_A.encode())

    rotated = switched(KEY_B, KEY_A)
    client = rotated.test_client()
    found = _lookup(client, api.key, old_barcode)
    assert found.status_code == 200 and found.get_json()["id"] == card["id"]
    bought = client.post("/api/v1/pos/purchases", json={"barcode": old_barcode,
                                                        "amount": 10_000},
                         headers={"Authorization": f"Bearer {api.key}",
                                  "Idempotency-Key": "after-the-switch"})
    assert bought.status_code == 201, bought.get_json()
    assert client.get(_path(old_link)).status_code == 200
    assert client.get(_path(old_link) + "/pass.pkpass").status_code == 200

    cookie = dashboard.get_cookie("session")
    assert cookie is not None
    client.set_cookie("session", cookie.value)
    assert client.get("/dashboard/").status_code == 200  # still signed in
    assert client.post("/dashboard/logout", data={"csrf": form_token}).status_code == 302

    now = _card_now(client, api.key, card["id"])
    assert now["barcode"]["message"] == barcode_message(card["number"], KEY_B.encode())
    assert now["barcode"]["message"] != old_barcode and now["card_url"] != old_link
    assert client.get(_path(now["card_url"])).status_code == 200
    package = client.get(_path(now["apple_pass_url"]))
    assert pass_json(package.data)["barcodes"][0]["message"] == now["barcode"]["message"]
    joined = client.post(f"/api/v1/programs/{card['program_id']}/cards",
                         json={"name": "New", "email": "new@example.com"},
                         headers={"Authorization": f"Bearer {api.key}"}).get_json()
    assert joined["barcode"]["message"] == barcode_message(joined["number"], KEY_B.encode())


def _wallet(app: Flask) -> Any:
    return app.extensions["loyalpass"].wallet


def test_staff_and_recovery_links_mailed_under_the_old_key_still_open_after_the_switch(
    app: Flask, session: Session, switched: Callable[..., Flask],
) -> None:
    recovery_token = _wallet(app).recovery_url(42).rsplit("/", 1)[1]
    owner = merchant_with_owner(session)
    forgot = app.test_client()
    forgot.post("/dashboard/forgot", data={"csrf": csrf_of(forgot, "/dashboard/forgot"),
                                           "email": owner.owner_email})
    [mail] = send_mails(app)
    path = _path(link_in(mail))

    rotated, dropped = switched(KEY_B, KEY_A), switched(KEY_B)
    assert rotated.test_client().get(path).status_code == 200
    assert _wallet(rotated).recovery_link_id(recovery_token) == 42
    assert _wallet(rotated).recovery_url(42) != _wallet(app).recovery_url(42)
    assert dropped.test_client().get(path).status_code == 404
    assert _wallet(dropped).recovery_link_id(recovery_token) is None


def _holders(client: FlaskClient, api: Api, program_id: int, count: int
             ) -> list[dict[str, Any]]:
    """``count`` cards joined under the current key, each on a device of its own."""
    held = []
    for n in range(count):
        card = api.post(f"/api/v1/programs/{program_id}/cards",
                        {"name": f"Holder {n}", "email": f"holder{n}@example.com"}).get_json()
        installed = install(client, card)
        assert register(client, installed, f"device-{n}", f"{n:02d}" * 32) == 201
        held.append({**card, "installed": installed})
    return held


def _drain_pushes(app: Flask, sender: RecordingSender) -> None:
    runtime = app.extensions["loyalpass"]
    worker = Worker(sessions=runtime.sessions, sender=sender,
                    topic=runtime.wallet.pass_type_identifier)
    while worker.run_once():
        pass


def _round(app: Flask, at: datetime, per_minute: int = 60) -> int:
    with app.extensions["loyalpass"].sessions() as session:
        return resign_round(session, keys=KEYS_B, per_minute=per_minute, now=at).resigned


def _left(app: Flask, at: datetime) -> int:
    with app.extensions["loyalpass"].sessions() as session:
        return progress(session, keys=KEYS_B, now=at).remaining


def test_the_rotation_re_signs_and_pushes_every_pass_at_its_pace_once_then_the_old_key_can_go(
    app: Flask, client: FlaskClient, api: Api, program: dict[str, Any],
    switched: Callable[..., Flask],
) -> None:
    held = _holders(client, api, program["id"], 5)
    rotated = switched(KEY_B, KEY_A)
    switch = utcnow()
    assert _round(rotated, switch) == 0  # noted: every process gets the grace to restart
    start = switch + ROLLOUT_GRACE
    assert _round(rotated, start - timedelta(seconds=1)) == 0
    assert _left(rotated, start) == 5

    assert _round(rotated, start) == 1  # 60 a minute: one a second
    assert _round(rotated, start) == 0  # another worker at the same moment: the same pace
    assert _round(rotated, start + timedelta(seconds=2)) == 2
    assert _left(rotated, start) == 2
    assert _round(rotated, start + timedelta(seconds=2.5)) == 0
    assert _round(rotated, start + timedelta(seconds=30)) == 2
    assert _round(rotated, start + timedelta(seconds=31)) == 0
    assert _left(rotated, start) == 0

    sender = RecordingSender()
    _drain_pushes(rotated, sender)
    assert sorted(sender.tokens()) == sorted(f"{n:02d}" * 32 for n in range(5))
    assert _round(rotated, start + timedelta(minutes=5), per_minute=600) == 0  # nothing twice
    _drain_pushes(rotated, sender)
    assert len(sender.tokens()) == 5

    after = switched(KEY_B).test_client()  # the old key dropped
    for card in held:
        assert _lookup(after, api.key, card["barcode"]["message"]).status_code == 404
        now = _card_now(after, api.key, card["id"])
        assert _lookup(after, api.key, now["barcode"]["message"]).status_code == 200
        installed = card["installed"]
        fetched = after.get(
            f"/passkit/v1/passes/{installed['type']}/{installed['serial']}",
            headers={"Authorization": f"ApplePass {installed['token']}",
                     "If-Modified-Since": "Sat, 05 Dec 2026 00:00:00 GMT"})
        assert fetched.status_code == 200  # the phone's pass is older: it fetches anew
        assert pass_json(fetched.data)["barcodes"][0]["message"] == now["barcode"]["message"]
        assert after.get(_path(card["card_url"])).status_code == 404
        assert after.get(_path(now["card_url"])).status_code == 200


def test_a_pass_changed_after_the_switch_is_not_pushed_again_and_a_deleted_card_never(
    app: Flask, client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
    switched: Callable[..., Flask],
) -> None:
    held = _holders(client, api, program["id"], 3)
    session.execute(update(Card).values(pass_updated_at=utcnow() - timedelta(hours=1)))
    session.execute(update(Card).where(Card.id == held[2]["id"]).values(status="deleted"))
    session.commit()
    rotated = switched(KEY_B, KEY_A)
    switch = utcnow() - ROLLOUT_GRACE - timedelta(minutes=1)
    assert _round(rotated, switch) == 0
    assert buy(Api(rotated.test_client(), api.key), held[0], 5_000).status_code == 201
    _drain_pushes(rotated, RecordingSender())

    assert _left(rotated, utcnow()) == 1
    assert _round(rotated, utcnow(), per_minute=600) == 1
    sender = RecordingSender()
    _drain_pushes(rotated, sender)
    assert sender.tokens() == ["01" * 32]


def test_a_burst_of_joins_from_one_address_across_the_switch_is_one_origin(
    app: Flask, api: Api, program: dict[str, Any], session: Session,
    switched: Callable[..., Flask],
) -> None:
    def join(client: FlaskClient, email: str) -> None:
        path, environ = f"/join/{program['slug']}", {"REMOTE_ADDR": "203.0.113.7"}
        page = client.get(path, environ_base=environ)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        assert client.post(path, data={"csrf": csrf.group(1), "name": "N", "email": email},
                           environ_base=environ).status_code == 303

    join(app.test_client(), "before@example.com")
    join(switched(KEY_B, KEY_A).test_client(), "after@example.com")
    join(switched(KEY_B).test_client(), "later@example.com")
    session.rollback()
    origins = {card.customer.email: card.enrolled_from for card in session.scalars(select(Card))}
    assert origins["before@example.com"] == origins["after@example.com"]
    assert origins["later@example.com"] not in (None, origins["before@example.com"])


def _env(config: Config, **more: str) -> dict[str, str]:
    return {"LOYALPASS_DATABASE_URL": config.database_url,
            "LOYALPASS_INSTANCE_DIR": str(config.instance_dir),
            "LOYALPASS_CERTS_DIR": str(config.certs_dir), "LOYALPASS_ENV": "production",
            "LOYALPASS_SECRET_KEY": KEY_B, "LOYALPASS_SECRET_KEY_PREVIOUS": KEY_A, **more}


def test_keys_rotate_re_signs_every_pass_and_keys_status_shows_how_many_are_left(
    app: Flask, client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
    config: Config,
) -> None:
    _holders(client, api, program["id"], 3)
    runner = CliRunner()
    before = runner.invoke(main, ["keys", "status"], env=_env(config))
    assert before.exit_code == 0, before.output
    shown = json.loads(before.output)
    assert shown["passes_on_previous_keys"] == 3 and shown["current_since"] is None
    assert shown["key_id"] == KEYS_B.current_id and shown["previous_key_ids"] == [
        KEYS_B.previous_ids[0]]
    assert KEY_A not in before.output and KEY_B not in before.output

    session.execute(update(Card).values(pass_updated_at=utcnow() - timedelta(hours=1)))
    session.add(SigningKey(key_id=KEYS_B.current_id,  # switched a while ago, after them
                           current_since=utcnow() - ROLLOUT_GRACE - timedelta(minutes=1)))
    session.commit()
    rotated = runner.invoke(main, ["keys", "rotate", "--per-minute", "6000"],
                            env=_env(config))
    assert rotated.exit_code == 0, rotated.output
    assert "Re-signed 3 passes" in rotated.output
    after = json.loads(runner.invoke(main, ["keys", "status"], env=_env(config)).output)
    assert after["passes_on_previous_keys"] == 0 and after["finished_at"] is not None
    again = runner.invoke(main, ["keys", "rotate", "--per-minute", "6000"], env=_env(config))
    assert "Re-signed 0 passes" in again.output


@pytest.mark.parametrize(("previous", "said"), [
    ("test-secret-key-0123456789abcdef", "key 1 of LOYALPASS_SECRET_KEY_PREVIOUS is "
                                         "LOYALPASS_SECRET_KEY itself"),
    ("old-key-0123456789abcdef, short", "Key 2 of LOYALPASS_SECRET_KEY_PREVIOUS is 5 "
                                        "characters long"),
    ("old-key-0123456789abcdef old-key-0123456789abcdef", "listed twice"),
])
def test_an_unusable_previous_key_stops_the_start_with_one_sentence_naming_none(
    tmp_path: Any, previous: str, said: str,
) -> None:
    env = {"LOYALPASS_SECRET_KEY": KEY_A, "LOYALPASS_SECRET_KEY_PREVIOUS": previous,
           "LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    with pytest.raises(ConfigError) as refused:
        Config.from_env(env)
    assert said.lower() in str(refused.value).lower()
    assert "0123456789abcdef" not in str(refused.value)
    result = CliRunner().invoke(main, ["keys", "status"], env=env)
    assert result.exit_code == 2 and said.lower() in result.output.lower()


def test_previous_keys_are_read_from_a_comma_or_whitespace_list_and_never_printed(
    tmp_path: Any,
) -> None:
    config = Config.from_env({
        "LOYALPASS_SECRET_KEY": KEY_B, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
        "LOYALPASS_SECRET_KEY_PREVIOUS": f" {KEY_A},\n old-key-0123456789abcdef ,",
        "LOYALPASS_KEY_ROTATION_PER_MINUTE": "120"})
    assert config.previous_secret_keys == (KEY_A, "old-key-0123456789abcdef")
    assert config.key_rotation_per_minute == 120
    assert KEY_A not in repr(config) and KEY_B not in repr(config)
    with pytest.raises(ConfigError, match="LOYALPASS_KEY_ROTATION_PER_MINUTE"):
        Config.from_env({"LOYALPASS_SECRET_KEY": KEY_B, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
                         "LOYALPASS_KEY_ROTATION_PER_MINUTE": "fast"})
