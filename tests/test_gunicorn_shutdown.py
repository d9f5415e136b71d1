"""The repository's gunicorn configuration, run for real: SIGTERM lets a purchase in
flight finish (the POS gets its 201, the ledger has it), no new request is served
meanwhile, and each worker closes its PostgreSQL connections as it exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from app.config import Config
from tests.conftest import Api

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _backends(admin: psycopg.Connection[Any], name: str) -> list[tuple[Any, ...]]:
    return admin.execute("SELECT pid, state, wait_event_type FROM pg_stat_activity "
                         "WHERE application_name = %s", (name,)).fetchall()


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sigterm_finishes_the_purchase_in_flight_and_closes_the_database_connections(
        config: Config, api: Api, card: dict[str, Any], tmp_path: Path) -> None:
    name = f"lp_gunicorn_{uuid.uuid4().hex[:8]}"  # how PostgreSQL knows this server's sessions
    url = make_url(config.database_url).update_query_dict({"application_name": name})
    port = _free_port()
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
               "LOYALPASS_DATABASE_URL": url.render_as_string(hide_password=False),
               "LOYALPASS_SECRET_KEY": config.secret_key,
               "LOYALPASS_BASE_URL": config.base_url,
               "LOYALPASS_CERTS_DIR": str(config.certs_dir),
               "LOYALPASS_INSTANCE_DIR": str(tmp_path / "instance")}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    admin = psycopg.connect(make_url(config.database_url).set(drivername="postgresql")
                            .render_as_string(hide_password=False), autocommit=True)
    answers: list[requests.Response] = []
    try:
        origin = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(f"{origin}/healthz"), 60, "gunicorn to serve")
        # A path that is a secret (the card's own link to its pass): no line may show it.
        secret_path = card["apple_pass_url"].removeprefix(config.base_url)
        assert requests.get(origin + secret_path, timeout=30).status_code == 200
        with admin.transaction():  # the purchase's writes wait for this lock
            admin.execute("LOCK TABLE cards IN EXCLUSIVE MODE")
            purchase = threading.Thread(target=lambda: answers.append(requests.post(
                f"{origin}/api/v1/pos/purchases", timeout=60,
                json={"barcode": card["barcode"]["message"], "amount": 25_000},
                headers={"Authorization": f"Bearer {api.key}",
                         "Idempotency-Key": "till-1-0001", "X-Request-Id": "till-1-0001"})))
            purchase.start()
            _wait(lambda: any(row[2] == "Lock" for row in _backends(admin, name)), 30,
                  "the purchase to wait on the lock")
            server.send_signal(signal.SIGTERM)
            time.sleep(1.5)
            assert server.poll() is None  # still finishing the purchase
            assert not answers
            # No new request is taken meanwhile: the master has closed its socket, and the
            # worker's copy is only read again to exit (a proxy stops sending on /readyz).
            with pytest.raises(requests.RequestException):
                requests.get(f"{origin}/healthz", timeout=2)
        purchase.join(30)
        _out, errors = server.communicate(timeout=60)
        assert server.returncode == 0, errors
        (answer,) = answers
        assert answer.status_code == 201, answer.text
        assert answer.json()["amount"] == 25_000
        assert answer.headers["X-Request-Id"] == "till-1-0001"
        recorded = admin.execute("SELECT count(*) FROM purchases").fetchone()
        assert recorded is not None and recorded[0] == 1
        _wait(lambda: not _backends(admin, name), 10, "the server's sessions to end")
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=30)
        admin.close()
    lines = [json.loads(line) for line in errors.splitlines() if line.strip()]
    messages = [(line["logger"], line["message"]) for line in lines]
    assert any(logger == "gunicorn.error" and message.endswith("database connections closed")
               for logger, message in messages), messages
    (request_line,) = [line for line in lines if line.get("request_id") == "till-1-0001"]
    assert request_line["route"] == "/api/v1/pos/purchases"
    assert request_line["status"] == 201
    assert card["barcode"]["message"] not in errors and api.key not in errors
    # No access lines (they would hold paths): each request's own line names its route.
    assert secret_path not in errors
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:  # not listening yet, or the worker still loading
        return False


def test_the_configuration_s_defaults_suit_production() -> None:
    settings: dict[str, Any] = {}
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("LOYALPASS_", "WEB_CONCURRENCY"))}
    code = ("import runpy, json, os, sys\n"
            "found = runpy.run_path('gunicorn.conf.py')\n"
            "keys = ['bind', 'workers', 'worker_class', 'timeout', 'graceful_timeout',"
            " 'max_requests', 'max_requests_jitter', 'accesslog', 'errorlog',"
            " 'logconfig_dict']\n"
            "print(json.dumps({key: found[key] for key in keys}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True,
                          env={**environ, "LOYALPASS_DATABASE_URL": "postgresql://x/y"})
    settings = json.loads(done.stdout)
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert settings["workers"] == (os.cpu_count() or 1) * 2 + 1
    assert settings["worker_class"] == "sync"
    assert settings["timeout"] == settings["graceful_timeout"] == 30
    assert settings["max_requests"] == 200_000 and settings["max_requests_jitter"] == 20_000
    assert settings["accesslog"] is None and settings["errorlog"] == "-"
    formatter = settings["logconfig_dict"]["formatters"]["loyalpass"]["()"]
    assert formatter == "app.logs.JsonFormatter"  # production: JSON
