"""Rate limits: the join form per address and per program, failed API keys per address,
in one process, across two processes sharing Redis, and with Redis gone."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import create_app
from app.cards.models import Card
from app.config import Config, ConfigError
from app.db import make_engine, make_session_factory
from app.errors import RateLimited
from app.merchants.service import create_merchant
from app.web.limits import LimitName, limited
from app.web.public import refused_page
from tests.conftest import count_rows

REDIS_URL = "redis://127.0.0.1:6379/0"
REPOSITORY = Path(__file__).resolve().parents[1]
BAD_KEY = "lp_0123456789ab_" + "x" * 43


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return f"Redis is not reachable at {REDIS_URL}: {error}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    try:
        yield app
    finally:
        app.extensions["loyalpass"].engine.dispose()


def _owner_key(app: Flask) -> str:
    with app.extensions["loyalpass"].sessions() as session:
        return create_merchant(session, name="Limits", email=f"{uuid.uuid4().hex}@l.io").api_key


def _program(client: FlaskClient, key: str, name: str = "Kava") -> dict[str, Any]:
    response = client.post("/api/v1/programs", headers={"Authorization": f"Bearer {key}"},
                           json={"name": name, "locales": ["uk", "en", "ru"]})
    assert response.status_code == 201
    body: dict[str, Any] = response.get_json()
    return body


def _join(client: FlaskClient, slug: str, email: str, address: str = "127.0.0.1",
          language: str = "uk") -> Any:
    environ = {"REMOTE_ADDR": address}
    form = client.get(f"/join/{slug}", environ_base=environ).text
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    assert match
    return client.post(f"/join/{slug}", environ_base=environ,
                       headers={"Accept-Language": language},
                       data={"csrf": match.group(1), "name": "Guest", "email": email})


def test_the_join_form_answers_429_past_the_limit_in_the_customers_language_and_creates_nothing(
    config: Config, session: Session
) -> None:
    with _app(config.with_changes(limit_join_per_address="2/minute")) as app:
        client = app.test_client()
        slug = _program(client, _owner_key(app))["slug"]
        assert _join(client, slug, "one@example.com").status_code == 303
        assert _join(client, slug, "two@example.com").status_code == 303

        refused = _join(client, slug, "three@example.com", language="ru-RU")

        assert refused.status_code == 429
        assert refused.mimetype == "text/html"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Попробуйте ещё раз чуть позже" in refused.text
        assert "Content-Security-Policy" in refused.headers
        assert count_rows(session, Card) == 2
        assert "Спробуйте ще раз" in _join(client, slug, "four@example.com").text  # program's
        other = _join(client, slug, "five@example.com", address="192.0.2.7")
        assert other.status_code == 303  # another address has its own budget
        assert count_rows(session, Card) == 3


def test_a_programs_join_limit_holds_whatever_the_address(
    config: Config, session: Session
) -> None:
    with _app(config.with_changes(limit_join_per_program="2/minute")) as app:
        client = app.test_client()
        key = _owner_key(app)
        busy, quiet = _program(client, key, "Busy")["slug"], _program(client, key, "Quiet")["slug"]
        assert _join(client, busy, "a@example.com", "192.0.2.1").status_code == 303
        assert _join(client, busy, "b@example.com", "192.0.2.2").status_code == 303

        assert _join(client, busy, "c@example.com", "192.0.2.3").status_code == 429
        assert _join(client, quiet, "d@example.com", "192.0.2.3").status_code == 303
        assert count_rows(session, Card) == 3


def test_failed_api_keys_are_limited_per_address_while_a_valid_key_still_works(
    config: Config,
) -> None:
    with _app(config.with_changes(limit_auth_failures="3/minute")) as app:
        client = app.test_client()
        good = {"Authorization": f"Bearer {_owner_key(app)}"}
        bad = {"Authorization": f"Bearer {BAD_KEY}"}
        failures = [client.get("/api/v1/programs", headers=bad).status_code,
                    client.get("/api/v1/programs").status_code,  # no key at all
                    client.post("/api/v1/pos/purchases", headers=bad, json={}).status_code]
        assert failures == [401, 401, 401]

        refused = client.get("/api/v1/programs", headers=bad)
        purchase = client.post("/api/v1/pos/purchases", headers=bad, json={})

        assert refused.status_code == 429 and purchase.status_code == 429
        body = refused.get_json()
        assert refused.mimetype == "application/problem+json"
        assert body["code"] == "rate_limited" and body["status"] == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert client.get("/api/v1/programs", headers=good).status_code == 200
        elsewhere = client.get("/api/v1/programs", headers=bad,
                               environ_base={"REMOTE_ADDR": "192.0.2.9"})
        assert elsewhere.status_code == 401


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget(
    config: Config,
) -> None:
    with _app(config.with_changes(limit_auth_failures="1/minute", trusted_proxies=1)) as app:
        client = app.test_client()

        def fail(address: str) -> int:
            return client.get("/api/v1/programs", headers={"X-Forwarded-For": address}
                              ).status_code

        assert [fail("198.51.100.1"), fail("198.51.100.1"), fail("198.51.100.2")] == [
            401, 429, 401]


def test_an_unreachable_redis_at_start_fails_naming_the_variable(config: Config) -> None:
    with pytest.raises(ConfigError, match="LOYALPASS_REDIS_URL"):
        create_app(config.with_changes(redis_url=f"redis://127.0.0.1:{_free_port()}/0"))
    with pytest.raises(ConfigError, match="LOYALPASS_REDIS_URL"):
        create_app(config.with_changes(redis_url="http://127.0.0.1:6379"))


@contextmanager
def _redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url, server
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.skipif(not Path("/usr/bin/redis-server").exists(),
                    reason="redis-server is not installed")
def test_a_redis_that_goes_away_later_leaves_requests_answered_and_limited_in_memory(
    config: Config,
) -> None:
    with _redis_server() as (url, server), \
            _app(config.with_changes(redis_url=url, limit_auth_failures="2/minute")) as app:
        client = app.test_client()
        good = {"Authorization": f"Bearer {_owner_key(app)}"}
        assert client.get("/api/v1/programs").status_code == 401
        assert redis.Redis.from_url(url).keys("*")  # counted in Redis

        server.kill()
        server.wait(10)

        answers = [client.get("/api/v1/programs").status_code for _ in range(4)]
        assert answers == [401, 401, 429, 429]  # counted in memory from here on
        assert client.get("/api/v1/programs", headers=good).status_code == 200


@contextmanager
def _served(environ: dict[str, str]) -> Iterator[str]:
    """The service in a process of its own, as ``flask --app wsgi run`` starts it."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("LOYALPASS_")}
    env.update(environ, PYTHONPATH=str(REPOSITORY),
               LOYALPASS_BASE_URL=f"http://127.0.0.1:{port}")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port),
         "--no-reload", "--no-debugger"], cwd=REPOSITORY, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{origin}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield origin
    finally:
        process.terminate()
        process.wait(20)


def test_limits_hold_across_two_processes_sharing_redis(
    config: Config, database_url: str
) -> None:
    problem = _redis_problem()
    if problem:
        pytest.skip(problem)
    environ = {
        "LOYALPASS_ENV": "production", "LOYALPASS_DATABASE_URL": database_url,
        "LOYALPASS_SECRET_KEY": config.secret_key, "LOYALPASS_CERTS_DIR": str(config.certs_dir),
        "LOYALPASS_INSTANCE_DIR": str(config.instance_dir), "LOYALPASS_WORKER": "external",
        "LOYALPASS_REDIS_URL": REDIS_URL, "LOYALPASS_REDIS_PREFIX": f"test-{uuid.uuid4().hex}",
        "LOYALPASS_LIMIT_AUTH_FAILURES": "3/minute",
        "LOYALPASS_LIMIT_JOIN_PER_ADDRESS": "2/minute",
    }
    with make_engine(database_url).connect() as connection:
        sessions = make_session_factory(connection.engine)
        with sessions() as session:
            key = create_merchant(session, name="Two", email=f"{uuid.uuid4().hex}@t.io").api_key
        connection.engine.dispose()
    good = {"Authorization": f"Bearer {key}"}
    bad = {"Authorization": f"Bearer {BAD_KEY}"}
    with _served(environ) as first, _served(environ) as second:
        slug = requests.post(f"{first}/api/v1/programs", headers=good, timeout=10,
                             json={"name": "Two"}).json()["slug"]
        spent = [requests.get(f"{first}/api/v1/programs", headers=bad, timeout=10).status_code
                 for _ in range(3)]
        joins = [requests.post(f"{first}/join/{slug}", data={}, timeout=10).status_code
                 for _ in range(2)]  # refused for want of a form token, counted all the same

        assert spent == [401, 401, 401] and joins == [400, 400]
        assert requests.get(f"{second}/api/v1/programs", headers=bad,
                            timeout=10).status_code == 429
        assert requests.post(f"{second}/join/{slug}", data={}, timeout=10).status_code == 429
        assert requests.get(f"{second}/api/v1/programs", headers=good,
                            timeout=10).status_code == 200


def test_a_page_marked_limited_for_recovery_answers_429_as_a_page_past_the_limit(
    config: Config,
) -> None:
    pages = Blueprint("recovery_test", __name__)
    pages.register_error_handler(RateLimited, refused_page)

    @pages.get("/recover-test")
    @limited(LimitName.RECOVERY)
    def recover() -> str:
        return "sent"

    app = create_app(config.with_changes(limit_recovery="2/minute"))
    app.register_blueprint(pages)
    try:
        client = app.test_client()
        assert [client.get("/recover-test").text for _ in range(2)] == ["sent", "sent"]

        refused = client.get("/recover-test", headers={"Accept-Language": "uk"})

        assert refused.status_code == 429 and refused.mimetype == "text/html"
        assert "Спробуйте ще раз трохи згодом" in refused.text
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        app.extensions["loyalpass"].engine.dispose()


def test_flask_limiter_still_checks_requests_through_the_one_method_we_narrow(app: Flask) -> None:
    """``_ViewLimiter`` narrows Flask-Limiter's private ``_check_request_limit`` (its pass
    before every request) to the views that ask. If a new Flask-Limiter renames it or
    changes its signature, the narrowing would silently stop: this fails first."""
    import inspect

    from flask_limiter import Limiter

    from app.web.limits import LIMITS_EXTENSION, _ViewLimiter

    hooks = app.before_request_funcs[None]
    limiter = app.extensions[LIMITS_EXTENSION].limiter
    assert any(getattr(hook, "__func__", None) is _ViewLimiter._check_request_limit
               and hook.__self__ is limiter for hook in hooks)
    assert list(inspect.signature(Limiter._check_request_limit).parameters) == [
        "self", "callable_name", "in_middleware"]
