"""Structured logs: one JSON object a line with the request's id (taken from a sound
``X-Request-Id`` or made, and sent back), each request's line naming its route pattern,
status and duration; nothing secret or personal in any line; plain text for
``loyalpass serve``, JSON for workers and production."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.config import Config, ConfigError
from app.integrations.mail import LoggingMailSender
from app.logs import JsonFormatter, PlainFormatter, configure_logging, redact
from tests.conftest import Api
from tests.wallet_helpers import pass_json

ROOT = Path(__file__).resolve().parent.parent


def _written(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The ``loyalpass`` loggers' lines as JSON text, for the test to read as it goes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("loyalpass")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_request_s_line_names_its_route_status_and_duration_under_the_id_it_answers_with(
        app: Flask, api: Api, card: dict[str, Any], captured: io.StringIO) -> None:
    package = api.client.get(card["apple_pass_url"])
    installed = pass_json(package.data)
    serial, token = installed["serialNumber"], installed["authenticationToken"]
    path = f"/passkit/v1/passes/{installed['passTypeIdentifier']}/{serial}"
    captured.truncate(0)
    captured.seek(0)
    answer = api.client.get(path, headers={"Authorization": f"ApplePass {token}"})
    assert answer.status_code == 200
    request_id = answer.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (line,) = [one for one in _written(captured) if one["logger"] == "loyalpass.request"]
    assert line["request_id"] == request_id
    assert line["method"] == "GET" and line["status"] == 200
    assert line["route"] == "/passkit/v1/passes/<pass_type>/<serial>"
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 60_000
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert set(line) == {"time", "level", "logger", "message", "request_id", "method",
                         "route", "status", "duration_ms"}
    text = captured.getvalue()
    for secret in (serial, token, api.key, card["number"], card["apple_pass_url"]):
        assert secret not in text


def test_a_sound_incoming_request_id_is_kept_and_an_unsound_one_replaced(
        client: Any, captured: io.StringIO) -> None:
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.9c:01"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a.9c:01"
    for unsound in ("two words", "x" * 65, "id\"}{\"level\":\"ERROR", "é"):
        answer = client.get("/healthz", headers={"X-Request-Id": unsound})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"])
    ids = [line["request_id"] for line in _written(captured)
           if line["logger"] == "loyalpass.request"]
    assert ids[0] == "lb-7f3a.9c:01" and len(set(ids)) == 5
    assert all(line["level"] == "DEBUG" for line in _written(captured))  # a probe's lines


def test_every_line_logged_while_answering_carries_the_request_s_id(
        app: Flask, captured: io.StringIO) -> None:
    def noisy(card_id: int) -> str:
        logging.getLogger("loyalpass.web").warning("something to say about %d", card_id)
        return "ok"

    app.add_url_rule("/noisy/<int:card_id>", view_func=noisy)
    answer = app.test_client().get("/noisy/42", headers={"X-Request-Id": "abc-123"})
    lines = _written(captured)
    assert [(line["logger"], line["request_id"]) for line in lines] == [
        ("loyalpass.web", "abc-123"), ("loyalpass.request", "abc-123")]
    assert lines[1]["route"] == "/noisy/<int:card_id>" and answer.status_code == 200
    logging.getLogger("loyalpass.web").warning("outside")  # after the request: no id
    assert _written(captured)[-1]["request_id"] is None


def test_an_unrouted_request_has_its_line_too_without_its_path(
        client: Any, captured: io.StringIO) -> None:
    answer = client.get("/no/such/page/ann@example.com")
    assert answer.status_code == 404
    (line,) = [one for one in _written(captured) if one["logger"] == "loyalpass.request"]
    assert line["route"] is None and line["status"] == 404
    assert "ann@example.com" not in captured.getvalue()


def test_an_error_s_traceback_is_inside_its_one_json_line() -> None:
    record = logging.LogRecord("loyalpass.web", logging.ERROR, __file__, 1, "failed %s",
                               ("badly",), None)
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "failed badly" and entry["level"] == "ERROR"
    assert "RuntimeError: boom" in entry["exception"] and entry["request_id"] is None


def test_the_plain_format_is_one_readable_line_with_the_request_id() -> None:
    record = logging.LogRecord("loyalpass.request", logging.INFO, __file__, 1,
                               "GET %s 200", ("/healthz",), None)
    record.request_id = "abc-123"
    text = PlainFormatter().format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO loyalpass\.request "
                        r"\[abc-123\] GET /healthz 200", text)


def test_the_format_is_json_in_production_plain_in_development_and_can_be_chosen(
        tmp_path: Path) -> None:
    production = {"LOYALPASS_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
                  "LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    assert Config.from_env(production).log_format == "json"
    development = {**production, "LOYALPASS_ENV": "development"}
    assert Config.from_env(development).log_format == "plain"
    chosen = Config.from_env({**production, "LOYALPASS_LOG_FORMAT": "plain",
                              "LOYALPASS_LOG_LEVEL": "warning"})
    assert (chosen.log_format, chosen.log_level) == ("plain", "WARNING")
    with pytest.raises(ConfigError, match="LOYALPASS_LOG_FORMAT must be one of json, plain"):
        Config.from_env({**production, "LOYALPASS_LOG_FORMAT": "xml"})


def test_configuring_twice_leaves_one_handler() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_logging("json")
        configure_logging("plain", "WARNING")
        ours = [handler for handler in root.handlers if handler not in before]
        assert len(ours) == 1 and isinstance(ours[0].formatter, PlainFormatter)
        assert root.level == logging.WARNING
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_a_mail_server_s_reply_is_logged_without_the_address_it_quotes() -> None:
    assert redact("550 5.1.1 <ann.lee@example.com>: Recipient address rejected") == \
        "550 5.1.1 <[address]>: Recipient address rejected"
    assert redact("/loyaltyObject/3388000000022000000.c-8d2f41a0b1/addMessage") == \
        "/loyaltyObject/[object]/addMessage"


def test_in_production_a_mail_that_goes_nowhere_is_logged_without_recipient_or_link(
        caplog: pytest.LogCaptureFixture) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["To"], message["Subject"] = "ann.lee@example.com", "Your Kava Club card"
    message.set_content("Open https://cards.example.test/c/secret-token-123")
    with caplog.at_level(logging.WARNING):
        LoggingMailSender(whole=False).send([message])
        quiet = caplog.text
        LoggingMailSender(whole=True).send([message])  # development: the whole mail
    assert "Your Kava Club card" in quiet
    assert "ann.lee@example.com" not in quiet and "secret-token-123" not in quiet
    assert "secret-token-123" in caplog.text


def _environ(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
            "LOYALPASS_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
            "LOYALPASS_CERTS_DIR": str(tmp_path / "certs"),
            "LOYALPASS_BASE_URL": "https://cards.example.test", **more}


def test_a_worker_in_production_logs_one_json_object_a_line(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    for command in (["certs", "dev"], ["db", "upgrade"]):
        subprocess.run([sys.executable, "-m", "app.cli", *command], env=environ, check=True,
                       capture_output=True, timeout=120)
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=environ,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("loop(s) on" in s for s in seen):
            line = worker.stderr.readline()
            if not line:
                break
            seen.append(line)
        worker.send_signal(signal.SIGTERM)
        out, rest = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    entries = [json.loads(line) for line in (*seen, *rest.splitlines()) if line.strip()]
    messages = [entry["message"] for entry in entries]
    assert any(message.startswith("Google Wallet: off") for message in messages)
    assert any(message.startswith("Mail: LOYALPASS_SMTP_URL is not set") for message in messages)
    assert "loyalpass worker: SIGTERM, finishing the batch" in messages
    assert all(entry["request_id"] is None for entry in entries)
    assert out == ""  # nothing beside the log


def test_serve_logs_plain_lines_naming_routes_not_paths(tmp_path: Path) -> None:
    import socket

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {key: value for key, value in _environ(tmp_path).items()
               if key not in ("LOYALPASS_DATABASE_URL", "LOYALPASS_SECRET_KEY",
                              "LOYALPASS_BASE_URL")}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                              cwd=tmp_path, env=environ, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180  # migrations, three RSA keys, the demo
        while server.poll() is None and time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        answer = requests.get(f"http://127.0.0.1:{port}/join/demo?ref=ann@example.com",
                              headers={"X-Request-Id": "serve-check-1"}, timeout=10)
        assert answer.headers["X-Request-Id"] == "serve-check-1"
    finally:
        server.send_signal(signal.SIGINT)
        _out, errors = server.communicate(timeout=30)
    (line,) = [one for one in errors.splitlines() if "[serve-check-1]" in one]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO loyalpass\.request "
                        r"\[serve-check-1\] GET /join/<slug> \d{3} \d+\.\d ms", line), line
    assert "ann@example.com" not in errors and "/join/demo" not in errors


def test_the_configuration_printed_into_a_log_shows_no_password_key_or_secret(
        tmp_path: Path) -> None:
    config = Config(
        database_url="postgresql+psycopg://loyal:db-password-1@db.internal/loyalpass",
        base_url="https://cards.example.com", secret_key="s" * 40, certs_dir=tmp_path,
        instance_dir=tmp_path, previous_secret_keys=("p" * 40,),
        pass_key_password="pass-key-password-2",
        redis_url="redis://:redis-password-3@cache.internal:6379/0",
        smtp_url="smtp://mailer:smtp-password-4@mail.internal:587",
        direct_database_url="postgresql+psycopg://loyal:db-password-5@db.internal/loyalpass")
    shown = repr(config)
    assert "https://cards.example.com" in shown  # what it is, but not its secrets
    for secret in ("db-password-1", "pass-key-password-2", "redis-password-3",
                   "smtp-password-4", "db-password-5", "s" * 40, "p" * 40):
        assert secret not in shown
