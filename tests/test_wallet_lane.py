"""The wallet's poll and pass answered below Flask (``app.web.wallet_lane``): the same
answers as Flask's views, what every answer carries, and everything else left to Flask,
on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client, TestResponse

from app.devices import service
from app.devices.signing_ahead import sign_ahead
from app.errors import Unavailable
from app.metrics import HTTP_REQUESTS
from app.web.wallet_lane import WalletLane
from tests.test_apple_web_service import DEVICE, _auth, _register
from tests.wallet_helpers import installed_pass

Installed = dict[str, Any]


@pytest.fixture
def installed(client: FlaskClient, card: dict[str, Any]) -> Installed:
    return installed_pass(client, card)


@dataclass
class Lane:
    """The app's lane, with the paths it handed to Flask, and Flask without it."""

    lane: WalletLane
    handed: list[str]
    flask: Any


@pytest.fixture
def lane(app: Flask) -> Iterator[Lane]:
    lane = app.wsgi_app
    assert isinstance(lane, WalletLane)
    flask = lane.flask
    handed: list[str] = []

    def counting(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        handed.append(environ["PATH_INFO"])
        return flask(environ, start_response)

    lane.flask = counting
    yield Lane(lane, handed, flask)
    lane.flask = flask


def _handed(lane: Lane) -> list[str]:
    return lane.handed


def _flask_alone(lane: Lane) -> Client:
    """A client of the app without the lane: Flask's views answer everything."""
    return Client(lane.flask, TestResponse)


def _poll_path(installed: Installed, device: str = DEVICE) -> str:
    return f"/passkit/v1/devices/{device}/registrations/{installed['type']}"


def _pass_path(installed: Installed, serial: str | None = None) -> str:
    return f"/passkit/v1/passes/{installed['type']}/{serial or installed['serial']}"


def _same_headers(one: TestResponse, other: TestResponse) -> None:
    def shown(response: TestResponse) -> dict[str, str]:
        return {name: value for name, value in response.headers.items()
                if name != "X-Request-Id"}

    assert shown(one) == shown(other)
    assert one.headers["X-Request-Id"] and other.headers["X-Request-Id"]


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "signature"}


def _older(last_modified: str) -> str:
    return format_datetime(parsedate_to_datetime(last_modified) - timedelta(hours=1),
                           usegmt=True)


def test_the_lane_answers_the_wallets_poll_as_flask_does_and_flask_never_sees_it(
    client: FlaskClient, installed: Installed, lane: Lane
) -> None:
    assert _register(client, installed).status_code == 201
    listed = client.get(_poll_path(installed))
    alone = _flask_alone(lane).get(_poll_path(installed))
    assert listed.status_code == alone.status_code == 200
    assert listed.get_json() == alone.get_json() == {
        "serialNumbers": [installed["serial"]], "lastUpdated": listed.get_json()["lastUpdated"]}
    _same_headers(listed, alone)
    tag = listed.get_json()["lastUpdated"]
    nothing_new = client.get(_poll_path(installed), query_string={"passesUpdatedSince": tag})
    alone = _flask_alone(lane).get(_poll_path(installed),
                                   query_string={"passesUpdatedSince": tag})
    assert nothing_new.status_code == alone.status_code == 204
    assert nothing_new.data == alone.data == b""
    _same_headers(nothing_new, alone)
    assert "Content-Type" not in nothing_new.headers
    assert _handed(lane) == [_registration_path_of(installed)]  # the register only


def _registration_path_of(installed: Installed) -> str:
    return f"/passkit/v1/devices/{DEVICE}/registrations/{installed['type']}/{installed['serial']}"


def test_the_lane_answers_a_pass_and_a_304_as_flask_does(
    client: FlaskClient, installed: Installed, lane: Lane
) -> None:
    headers = _auth(installed["token"])
    whole = client.get(_pass_path(installed), headers=headers)
    alone = _flask_alone(lane).get(_pass_path(installed), headers=headers)
    assert whole.status_code == alone.status_code == 200
    assert whole.headers["Content-Type"] == "application/vnd.apple.pkpass"
    _same_headers(whole, alone)
    assert _files(whole.data) == _files(alone.data)
    since = {**headers, "If-Modified-Since": whole.headers["Last-Modified"]}
    unchanged = client.get(_pass_path(installed), headers=since)
    alone = _flask_alone(lane).get(_pass_path(installed), headers=since)
    assert unchanged.status_code == alone.status_code == 304
    assert unchanged.data == alone.data == b""
    _same_headers(unchanged, alone)
    older = {**headers, "If-Modified-Since": _older(whole.headers["Last-Modified"])}
    pushed = client.get(_pass_path(installed), headers=older)
    assert pushed.status_code == 200 and _files(pushed.data) == _files(whole.data)
    assert _handed(lane) == []


def test_the_lane_serves_a_pass_signed_ahead_as_flask_does(
    app: Flask, client: FlaskClient, card: dict[str, Any], installed: Installed, lane: Lane
) -> None:
    headers = _auth(installed["token"])
    whole = client.get(_pass_path(installed), headers=headers)
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:  # as the worker does when the push leaves
        assert sign_ahead(session, runtime.wallet, card_ids=[card["id"]]) == 1
        session.commit()
    after_a_push = {**headers, "If-Modified-Since": _older(whole.headers["Last-Modified"])}
    for asked in (headers, after_a_push):
        served = client.get(_pass_path(installed), headers=asked)
        alone = _flask_alone(lane).get(_pass_path(installed), headers=asked)
        assert served.status_code == alone.status_code == 200
        assert served.data == alone.data  # the one signature made ahead, byte for byte
        _same_headers(served, alone)
        assert _files(served.data) == _files(whole.data)
    assert _handed(lane) == []


@pytest.mark.parametrize("ask", [
    "wrong token", "no token", "unknown serial", "malformed serial", "another pass type",
])
def test_a_pass_request_the_lane_does_not_answer_gets_flasks_401_or_400(
    client: FlaskClient, installed: Installed, lane: Lane, ask: str
) -> None:
    path, headers = _pass_path(installed), _auth(installed["token"])
    if ask == "wrong token":
        headers = _auth("x" * 43)
    elif ask == "no token":
        headers = {}
    elif ask == "unknown serial":
        path = _pass_path(installed, "no-such-serial")
    elif ask == "malformed serial":
        path = _pass_path(installed, "bad~serial")
    else:
        path = path.replace(installed["type"], "pass.com.someone.else")
    answered = client.get(path, headers=headers)
    alone = _flask_alone(lane).get(path, headers=headers)
    assert answered.status_code == alone.status_code == (400 if ask == "malformed serial"
                                                         else 401)
    assert answered.get_json() == alone.get_json()
    assert answered.get_json()["status"] == answered.status_code
    assert path in _handed(lane)


@pytest.mark.parametrize("query", [
    {"passesUpdatedSince": "not-a-tag"}, {"passesUpdatedSince": "1", "other": "2"},
    {"passesUpdatedSince": "9" * 25},
])
def test_a_poll_with_another_query_is_answered_by_flask_with_every_pass(
    client: FlaskClient, installed: Installed, lane: Lane, query: dict[str, str]
) -> None:
    _register(client, installed)
    listed = client.get(_poll_path(installed), query_string=query)
    assert listed.status_code == 200
    assert listed.get_json()["serialNumbers"] == [installed["serial"]]
    assert _poll_path(installed) in _handed(lane)


def test_other_methods_and_pass_types_are_flasks(
    client: FlaskClient, installed: Installed, lane: Lane
) -> None:
    _register(client, installed)
    other_type = _poll_path(installed).replace(installed["type"], "pass.com.someone.else")
    assert client.get(other_type).status_code == 204
    assert client.head(_pass_path(installed), headers=_auth(installed["token"])
                       ).status_code == 200
    assert client.get(_poll_path(installed, "bad~device")).status_code == 400
    assert client.get(_poll_path(installed) + "/").status_code == 404
    assert len(_handed(lane)) == 5  # the register too


def test_a_database_fault_in_the_lane_is_answered_by_flask_with_a_503(
    client: FlaskClient, installed: Installed, lane: Lane,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(client, installed)

    def down(*_: Any, **__: Any) -> Any:
        raise Unavailable()

    monkeypatch.setattr(service, "updated_passes", down)
    listed = client.get(_poll_path(installed))
    assert listed.status_code == 503 and listed.headers["Retry-After"]
    assert listed.get_json()["status"] == 503
    assert _poll_path(installed) in _handed(lane)


def _count(method: str, rule: str, status: str) -> float:
    value: float = HTTP_REQUESTS.labels(method, rule, status)._value.get()
    return value


def test_the_lanes_answers_are_logged_and_counted_by_route_pattern_with_their_request_id(
    client: FlaskClient, installed: Installed, lane: Lane,
    caplog: pytest.LogCaptureFixture
) -> None:
    rule = "/passkit/v1/passes/<pass_type>/<serial>"
    before = _count("GET", rule, "200")
    with caplog.at_level(logging.INFO, logger="loyalpass.request"):
        answered = client.get(_pass_path(installed), headers={
            **_auth(installed["token"]), "X-Request-Id": "till-7.req-42"})
    assert answered.status_code == 200
    assert answered.headers["X-Request-Id"] == "till-7.req-42"
    assert answered.headers["X-Content-Type-Options"] == "nosniff"
    assert answered.headers["Referrer-Policy"] == "same-origin"
    assert _count("GET", rule, "200") == before + 1
    lines = [record for record in caplog.records if record.name == "loyalpass.request"]
    assert [(line.__dict__["route"], line.__dict__["status"]) for line in lines] == [(rule, 200)]
    assert installed["serial"] not in caplog.text and installed["token"] not in caplog.text


def test_nothing_new_is_counted_but_written_only_as_a_debug_line_by_the_lane_and_by_flask(
    client: FlaskClient, installed: Installed, lane: Lane,
    caplog: pytest.LogCaptureFixture
) -> None:
    assert _register(client, installed).status_code == 201
    tag = client.get(_poll_path(installed)).get_json()["lastUpdated"]
    last_modified = client.get(_pass_path(installed), headers=_auth(installed["token"])
                               ).headers["Last-Modified"]
    poll_rule = "/passkit/v1/devices/<device>/registrations/<pass_type>"
    pass_rule = "/passkit/v1/passes/<pass_type>/<serial>"
    before = (_count("GET", poll_rule, "204"), _count("GET", pass_rule, "304"))
    for answer in (client, _flask_alone(lane)):
        with caplog.at_level(logging.INFO, logger="loyalpass.request"):
            polled = answer.get(_poll_path(installed), query_string={"passesUpdatedSince": tag})
            same = answer.get(_pass_path(installed), headers={
                **_auth(installed["token"]), "If-Modified-Since": last_modified})
        assert (polled.status_code, same.status_code) == (204, 304)
        assert [record for record in caplog.records if record.name == "loyalpass.request"] == []
        with caplog.at_level(logging.DEBUG, logger="loyalpass.request"):
            answer.get(_pass_path(installed), headers={
                **_auth(installed["token"]), "If-Modified-Since": last_modified})
        assert [(record.levelname, record.__dict__["status"]) for record in caplog.records
                if record.name == "loyalpass.request"] == [("DEBUG", 304)]
        caplog.clear()
    # The lane's and Flask's answers alike, each counted by route and status.
    assert (_count("GET", poll_rule, "204"), _count("GET", pass_rule, "304")) == (
        before[0] + 2, before[1] + 4)


def test_a_request_id_the_lane_did_not_like_is_replaced(
    client: FlaskClient, installed: Installed, lane: Lane
) -> None:
    answered = client.get(_pass_path(installed), headers={
        **_auth(installed["token"]), "X-Request-Id": "forged line {}"})
    assert answered.status_code == 200
    assert answered.headers["X-Request-Id"] not in ("", "forged line {}")
    assert len(answered.headers["X-Request-Id"]) == 32

