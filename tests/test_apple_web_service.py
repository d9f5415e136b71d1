"""Conformance of the pass update web service with Apple's specification, on SQLite and
PostgreSQL: every status the wallet app can see, and nothing stored on a refused call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.delivery.fanout import drain_outbox
from app.devices.models import Device, DeviceLog, Registration
from tests.conftest import Api, count_rows
from tests.wallet_helpers import installed_pass, pass_json

DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH_TOKEN = "ab" * 32


@pytest.fixture
def installed(client: FlaskClient, card: dict[str, Any]) -> dict[str, Any]:
    return installed_pass(client, card)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def _registration_path(device: str, pass_type: str, serial: str) -> str:
    return f"/passkit/v1/devices/{device}/registrations/{pass_type}/{serial}"


def _register(client: FlaskClient, installed: dict[str, Any], device: str = DEVICE,
              push_token: str = PUSH_TOKEN, token: str | None = None) -> Any:
    return client.post(
        _registration_path(device, installed["type"], installed["serial"]),
        json={"pushToken": push_token}, headers=_auth(token or installed["token"]),
    )


def _list(client: FlaskClient, installed: dict[str, Any], since: str | None = None,
          device: str = DEVICE) -> Any:
    path = f"/passkit/v1/devices/{device}/registrations/{installed['type']}"
    return client.get(path, query_string={"passesUpdatedSince": since} if since else None)


def _change_every_pass(api: Api, program_id: int, color: str = "#123456") -> None:
    """A new design for the program, and the worker's fan-out, which redraws its passes."""
    response = api.patch(f"/api/v1/programs/{program_id}", {"colors": {"background": color}})
    assert response.status_code == 200
    with api.client.application.extensions["loyalpass"].sessions() as session:
        while drain_outbox(session):
            pass



def test_registering_a_new_device_answers_201_and_again_200(
    client: FlaskClient, installed: dict[str, Any], session: Session
) -> None:
    assert _register(client, installed).status_code == 201
    assert _register(client, installed).status_code == 200
    assert count_rows(session, Registration) == 1


def test_registering_again_stores_the_new_push_token(
    client: FlaskClient, installed: dict[str, Any], session: Session
) -> None:
    _register(client, installed)
    assert _register(client, installed, push_token="cd" * 32).status_code == 200
    session.expire_all()
    registration = session.scalar(select(Registration))
    assert registration is not None and registration.push_token == "cd" * 32


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "ApplePass wrong-token-000000000000000000"},
    {"Authorization": "Bearer whatever"}, {"Authorization": "ApplePass "},
])
def test_registering_without_the_pass_token_is_401_and_stores_nothing(
    client: FlaskClient, installed: dict[str, Any], session: Session, headers: dict[str, str]
) -> None:
    response = client.post(_registration_path(DEVICE, installed["type"], installed["serial"]),
                           json={"pushToken": PUSH_TOKEN}, headers=headers)
    assert response.status_code == 401
    assert count_rows(session, Device) == 0 and count_rows(session, Registration) == 0


def test_registering_an_unknown_serial_or_pass_type_is_401(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    unknown_serial = _registration_path(DEVICE, installed["type"], "0" * 32)
    other_type = _registration_path(DEVICE, "pass.com.example.other", installed["serial"])
    for path in (unknown_serial, other_type):
        response = client.post(path, json={"pushToken": PUSH_TOKEN},
                               headers=_auth(installed["token"]))
        assert response.status_code == 401


@pytest.mark.parametrize("body", [
    None, b"not json", b"[]", b'{"pushToken": 12}', b'{"pushToken": "not-hex!"}', b"{}",
])
def test_registering_with_a_malformed_body_is_400_and_stores_nothing(
    client: FlaskClient, installed: dict[str, Any], session: Session, body: bytes | None
) -> None:
    response = client.post(_registration_path(DEVICE, installed["type"], installed["serial"]),
                           data=body, content_type="application/json",
                           headers=_auth(installed["token"]))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert count_rows(session, Device) == 0


@pytest.mark.parametrize("device", ["x" * 129, "bad%20id", "semi;colon"])
def test_malformed_device_identifiers_are_400(
    client: FlaskClient, installed: dict[str, Any], device: str
) -> None:
    assert _register(client, installed, device=device).status_code == 400
    assert _list(client, installed, device=device).status_code == 400


def test_listing_for_an_unknown_device_is_204(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    response = _list(client, installed, device="unknowndevice0001")
    assert response.status_code == 204
    assert response.data == b""


def test_listing_without_a_tag_gives_serials_and_a_string_tag(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    _register(client, installed)
    response = _list(client, installed)
    assert response.status_code == 200
    body = response.get_json()
    assert body["serialNumbers"] == [installed["serial"]]
    assert isinstance(body["lastUpdated"], str) and body["lastUpdated"]


def test_listing_since_the_last_tag_is_204_until_the_pass_changes(
    client: FlaskClient, installed: dict[str, Any], api: Api
) -> None:
    _register(client, installed)
    first = _list(client, installed).get_json()["lastUpdated"]
    assert _list(client, installed, since=first).status_code == 204
    _change_every_pass(api, installed["card"]["program_id"])
    response = _list(client, installed, since=first)
    assert response.status_code == 200
    body = response.get_json()
    assert body["serialNumbers"] == [installed["serial"]]
    assert isinstance(body["lastUpdated"], str) and int(body["lastUpdated"]) > int(first)
    assert _list(client, installed, since=body["lastUpdated"]).status_code == 204


def test_listing_returns_only_the_passes_changed_after_the_tag(
    client: FlaskClient, installed: dict[str, Any], api: Api
) -> None:
    other_program = api.post("/api/v1/programs", {"name": "Second shop"}).get_json()
    other_card = api.post(f"/api/v1/programs/{other_program['id']}/cards",
                          {"name": "Olena", "email": "olena@example.com"}).get_json()
    other = pass_json(api.client.get(
        other_card["apple_pass_url"].removeprefix("https://cards.example.test")).data)
    _register(client, installed)
    client.post(_registration_path(DEVICE, other["passTypeIdentifier"], other["serialNumber"]),
                json={"pushToken": PUSH_TOKEN}, headers=_auth(other["authenticationToken"]))
    everything = _list(client, installed).get_json()
    assert sorted(everything["serialNumbers"]) == sorted([installed["serial"],
                                                          other["serialNumber"]])
    _change_every_pass(api, other_program["id"])
    changed = _list(client, installed, since=everything["lastUpdated"]).get_json()
    assert changed["serialNumbers"] == [other["serialNumber"]]


def test_a_tag_we_never_issued_lists_everything_rather_than_failing(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    _register(client, installed)
    for tag in ("yesterday", "-5", "9" * 40):
        response = _list(client, installed, since=tag)
        assert response.status_code == 200
        assert response.get_json()["serialNumbers"] == [installed["serial"]]


@pytest.mark.parametrize("tag", ["9999999999999999999", "1" + "0" * 18, "253402300800000000"],
                         ids=["19 nines", "10**18", "the year 10000"])
def test_a_tag_past_any_date_lists_everything_rather_than_failing(
    client: FlaskClient, installed: dict[str, Any], tag: str
) -> None:
    _register(client, installed)
    response = _list(client, installed, since=tag)
    assert response.status_code == 200
    assert response.get_json()["serialNumbers"] == [installed["serial"]]


def test_a_tag_from_the_future_is_not_ours_and_lists_everything(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    from app.clock import to_microseconds, utcnow

    _register(client, installed)
    tomorrow = str(to_microseconds(utcnow() + timedelta(days=1)))
    response = _list(client, installed, since=tomorrow)
    assert response.status_code == 200
    assert response.get_json()["serialNumbers"] == [installed["serial"]]
    issued = response.get_json()["lastUpdated"]
    assert _list(client, installed, since=issued).status_code == 204


def test_listing_another_pass_type_is_204(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    _register(client, installed)
    response = client.get(f"/passkit/v1/devices/{DEVICE}/registrations/pass.com.example.other")
    assert response.status_code == 204


def _pass_path(installed: dict[str, Any]) -> str:
    return f"/passkit/v1/passes/{installed['type']}/{installed['serial']}"


def test_the_latest_pass_is_a_pkpass_with_last_modified(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    response = client.get(_pass_path(installed), headers=_auth(installed["token"]))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.apple.pkpass"
    assert pass_json(response.data)["serialNumber"] == installed["serial"]
    modified = parsedate_to_datetime(response.headers["Last-Modified"])
    assert abs(modified - datetime.now(UTC)) < timedelta(minutes=1)


def test_if_modified_since_at_or_after_last_modified_is_304(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    first = client.get(_pass_path(installed), headers=_auth(installed["token"]))
    last_modified = first.headers["Last-Modified"]
    later = format_datetime(parsedate_to_datetime(last_modified) + timedelta(hours=1),
                            usegmt=True)
    for since in (last_modified, later):
        response = client.get(_pass_path(installed),
                              headers={**_auth(installed["token"]), "If-Modified-Since": since})
        assert response.status_code == 304
        assert response.data == b""


def test_if_modified_since_before_last_modified_or_garbled_sends_the_pass(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    first = client.get(_pass_path(installed), headers=_auth(installed["token"]))
    earlier = format_datetime(
        parsedate_to_datetime(first.headers["Last-Modified"]) - timedelta(seconds=1),
        usegmt=True)
    for since in (earlier, "not a date", "Mon, 99 Foo 2020 99:99:99 GMT"):
        response = client.get(_pass_path(installed),
                              headers={**_auth(installed["token"]), "If-Modified-Since": since})
        assert response.status_code == 200
        assert response.mimetype == "application/vnd.apple.pkpass"


def test_a_change_within_the_same_second_still_reaches_the_device(
    client: FlaskClient, installed: dict[str, Any], api: Api
) -> None:
    first = client.get(_pass_path(installed), headers=_auth(installed["token"]))
    _change_every_pass(api, installed["card"]["program_id"], "#654321")
    response = client.get(_pass_path(installed), headers={
        **_auth(installed["token"]), "If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 200
    assert pass_json(response.data)["backgroundColor"] == "rgb(101,67,33)"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "ApplePass not-the-token-0000000000000000"},
])
def test_the_latest_pass_without_its_token_is_401(
    client: FlaskClient, installed: dict[str, Any], headers: dict[str, str]
) -> None:
    assert client.get(_pass_path(installed), headers=headers).status_code == 401


def test_the_latest_pass_of_an_unknown_serial_is_401(
    client: FlaskClient, installed: dict[str, Any]
) -> None:
    response = client.get(f"/passkit/v1/passes/{installed['type']}/{'0' * 32}",
                          headers=_auth(installed["token"]))
    assert response.status_code == 401


def test_unregistering_answers_200_and_the_device_no_longer_lists_the_pass(
    client: FlaskClient, installed: dict[str, Any], session: Session
) -> None:
    _register(client, installed)
    path = _registration_path(DEVICE, installed["type"], installed["serial"])
    assert client.delete(path, headers=_auth(installed["token"])).status_code == 200
    assert _list(client, installed).status_code == 204
    assert count_rows(session, Registration) == 0 and count_rows(session, Device) == 0
    assert client.delete(path, headers=_auth(installed["token"])).status_code == 200


def test_unregistering_without_the_token_is_401_and_keeps_the_registration(
    client: FlaskClient, installed: dict[str, Any], session: Session
) -> None:
    _register(client, installed)
    path = _registration_path(DEVICE, installed["type"], installed["serial"])
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers=_auth("x" * 43)).status_code == 401
    assert count_rows(session, Registration) == 1


def test_unregistering_finds_the_registration_by_the_device_identifier(
    client: FlaskClient, installed: dict[str, Any], session: Session
) -> None:
    _register(client, installed, device="device-one")
    _register(client, installed, device="device-two")
    path = _registration_path("device-two", installed["type"], installed["serial"])
    assert client.delete(path, headers=_auth(installed["token"])).status_code == 200
    assert _list(client, installed, device="device-one").status_code == 200
    assert _list(client, installed, device="device-two").status_code == 204


def test_logs_are_stored_and_answered_200(client: FlaskClient, session: Session) -> None:
    response = client.post("/passkit/v1/log", json={"logs": ["Web service error: 500",
                                                             "Пропуск обновлён"]})
    assert response.status_code == 200
    messages = session.scalars(select(DeviceLog.message).order_by(DeviceLog.id)).all()
    assert messages == ["Web service error: 500", "Пропуск обновлён"]


@pytest.mark.parametrize("body", [b"nope", b"{}", b'{"logs": "one"}', b'{"logs": [1, 2]}'])
def test_malformed_logs_are_400(client: FlaskClient, body: bytes, session: Session) -> None:
    response = client.post("/passkit/v1/log", data=body, content_type="application/json")
    assert response.status_code == 400
    assert count_rows(session, DeviceLog) == 0


def test_oversized_logs_are_refused_and_the_log_is_capped(
    client: FlaskClient, session: Session, app: Any
) -> None:
    huge = {"logs": ["x" * 70_000]}
    assert client.post("/passkit/v1/log", json=huge).status_code == 413
    keep = app.extensions["loyalpass"].config.log_keep_rows
    batch = [f"line {n}" for n in range(100)]
    for _ in range(keep // 100 + 2):
        assert client.post("/passkit/v1/log", json={"logs": batch}).status_code == 200
    assert count_rows(session, DeviceLog) == keep
