"""Loyalpass through PgBouncer in transaction mode, as several machines run it: purchases,
the API and Apple's web service keep no state in a server session (the threads' held
connections are autocommit, every transaction ends in its request), with
``LOYALPASS_PREPARED_STATEMENTS=0`` for a PgBouncer that does not track prepared
statements (before 1.21); the workers' LISTEN connection goes straight to PostgreSQL
(``LOYALPASS_DIRECT_DATABASE_URL``), or, through the pooler, hears nothing and the loops
fall back on their poll.

Each test starts its own PgBouncer (Debian's ``pgbouncer`` package) on a free loopback
port, in front of the test database, with a pool of two server connections, so that the
app's clients share them as a busy pooler would make them."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.config import Config, ConfigError
from app.delivery.loop import PostgresListener
from app.delivery.pushes import Worker
from app.delivery.workers import make_workers
from tests.conftest import BASE_URL, Api, _truncate_postgres
from tests.push_helpers import RecordingSender, install, register, wait_for

POOL_SIZE = 2  # server connections for all the app's clients together
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _version() -> tuple[int, ...]:
    answer = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True,
                            check=True).stdout
    found = re.search(r"(\d+)\.(\d+)", answer)
    assert found is not None, answer
    return int(found[1]), int(found[2])


class PgBouncer:
    """A PgBouncer in transaction mode in front of one database, run by its own process
    (as the ``postgres`` user when the tests run as root: PgBouncer refuses root)."""

    def __init__(self, direct_url: str) -> None:
        self.direct = make_url(direct_url)
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="loyalpass-pgbouncer-"))
        self.folder.chmod(0o777)
        database = self.direct.database
        (self.folder / "userlist.txt").write_text(f'"{self.direct.username}" ""\n')
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{database} = host={self.direct.host} port={self.direct.port} dbname={database}\n"
            f"single = host={self.direct.host} port={self.direct.port} dbname={database} "
            "pool_size=1\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.folder / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n")
        for path in self.folder.iterdir():
            path.chmod(0o644)
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen([PGBOUNCER, *user, str(self.folder / "pgbouncer.ini")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait()

    def url(self, database: str | None = None) -> str:
        return self.direct.set(port=self.port, database=database or self.direct.database
                               ).render_as_string(hide_password=False)

    def _wait(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"PgBouncer exited: {self.process.communicate()[1]!r}")
            try:
                with psycopg.connect(self._dsn(), connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise AssertionError("PgBouncer did not answer within 15 s")

    def _dsn(self, database: str | None = None) -> str:
        return self.url(database).replace("postgresql+psycopg", "postgresql")

    def connect(self, database: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(self._dsn(database), autocommit=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def direct_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def bouncer(direct_url: str) -> Iterator[PgBouncer]:
    if not Path(PGBOUNCER).is_file():
        pytest.skip("PgBouncer is not installed (apt-get install pgbouncer): the tests of "
                    "running through a pooler in transaction mode skip")
    running = PgBouncer(direct_url)
    yield running
    running.stop()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, bouncer: PgBouncer) -> str:
    return bouncer.url()


@pytest.fixture
def config(database_url: str, direct_url: str, certs_dir: Path, tmp_path: Path) -> Config:
    """As the README says to configure a pooler in transaction mode before 1.21."""
    return Config(database_url=database_url, direct_database_url=direct_url,
                  prepared_statements=False, base_url=BASE_URL,
                  secret_key="test-secret-key-0123456789abcdef", certs_dir=certs_dir,
                  instance_dir=tmp_path / "instance", worker="external")


def _purchase(client: Any, key: str, barcode: str, amount: int) -> int:
    response = client.post("/api/v1/pos/purchases", json={"barcode": barcode, "amount": amount},
                           headers={"Authorization": f"Bearer {key}",
                                    "Idempotency-Key": uuid.uuid4().hex})
    status: int = response.status_code
    return status


def test_purchases_from_several_threads_through_pgbouncer_are_each_recorded_once(
        app: Flask, api: Api) -> None:
    program = api.post("/api/v1/programs", {"name": "Pooled", "earn_percent": 10,
                                            "point_value": 100}).get_json()
    cards = [api.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": f"Guest {n}", "email": f"g{n}@example.com"}).get_json()
             for n in range(2)]
    statuses: list[int] = []

    def till(number: int) -> None:
        client = app.test_client()  # a thread of its own: its own held connection
        for _ in range(8):  # past psycopg's fifth use, when it would prepare
            statuses.append(_purchase(client, api.key, cards[number % 2]["barcode"]["message"],
                                      10_000))

    tills = [threading.Thread(target=till, args=(number,)) for number in range(4)]
    for one in tills:
        one.start()
    for one in tills:
        one.join(60)

    assert statuses == [201] * 32
    for card in cards:
        read = api.get(f"/api/v1/cards/{card['id']}").get_json()
        assert read["balance"] == card["balance"] + 16 * 10  # 10 % of 100.00, 16 purchases
        entries = api.get(f"/api/v1/cards/{card['id']}/entries?limit=100").get_json()
        assert len([entry for entry in entries["entries"] if entry["kind"] == "earn"]) == 16


def test_the_pass_web_service_answers_through_pgbouncer(app: Flask, api: Api) -> None:
    program = api.post("/api/v1/programs", {"name": "Pooled"}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Guest", "email": "guest@example.com"}).get_json()
    device = app.test_client()
    installed = install(device, card)
    assert register(device, installed, "phone-1", "ab" * 32) == 201
    auth = {"Authorization": f"ApplePass {installed['token']}"}
    path = f"/passkit/v1/passes/{installed['type']}/{installed['serial']}"
    for _ in range(6):
        listed = device.get(f"/passkit/v1/devices/phone-1/registrations/{installed['type']}")
        assert listed.status_code == 200
        assert listed.get_json()["serialNumbers"] == [installed["serial"]]
        downloaded = device.get(path, headers=auth)
        assert downloaded.status_code == 200
        assert downloaded.mimetype == "application/vnd.apple.pkpass"
        unchanged = device.get(path, headers={
            **auth, "If-Modified-Since": downloaded.headers["Last-Modified"]})
        assert unchanged.status_code == 304
    tag = listed.get_json()["lastUpdated"]
    assert device.get(f"/passkit/v1/devices/phone-1/registrations/{installed['type']}"
                      f"?passesUpdatedSince={tag}").status_code == 204


@pytest.mark.parametrize(("listen", "poll"), [("direct", 60.0), ("pgbouncer", 1.0)])
def test_a_worker_pushes_a_purchase_made_elsewhere_woken_by_notify_or_by_its_poll(
        app: Flask, api: Api, config: Config, listen: str, poll: float) -> None:
    """Straight to PostgreSQL the NOTIFY wakes the worker (its poll is a minute away);
    through PgBouncer its LISTEN hears nothing, and its poll finds the purchase."""
    program = api.post("/api/v1/programs", {"name": "Pooled", "earn_percent": 5}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Guest", "email": "guest@example.com"}).get_json()
    device = app.test_client()
    token = "cd" * 32
    assert register(device, install(device, card), "phone-1", token) == 201
    worker_config = config.with_changes(
        worker_poll_interval=poll,
        direct_database_url=config.direct_database_url if listen == "direct" else None)
    runtime = create_app(worker_config).extensions["loyalpass"]  # another process's app
    sender = RecordingSender()
    loops = [loop for loop in make_workers(runtime, push_sender=sender, loops=1)
             if isinstance(loop, Worker)]
    for loop in loops:
        loop.start()
    listener = PostgresListener(worker_config.session_database_url, loops[0].wake)
    listener.start()
    try:
        wait_for(lambda: sender.tokens().count(token) == 1, timeout=70)  # the enrolment
        time.sleep(1.0)  # the worker on its long wait, the listener listening
        assert _purchase(app.test_client(), api.key, card["barcode"]["message"], 5_000) == 201
        waited = wait_for(lambda: sender.tokens().count(token) == 2, timeout=20)
    finally:
        for loop in loops:
            loop.stop()
            loop.join(15)
        listener.stop()
        runtime.engine.dispose()
    assert waited < (5.0 if listen == "direct" else poll + 5.0)


def test_prepared_statements_fail_through_a_pgbouncer_that_does_not_track_them(
        bouncer: PgBouncer) -> None:
    """Why ``LOYALPASS_PREPARED_STATEMENTS=0``: two clients sharing one server connection
    both prepare psycopg's first statement, which PostgreSQL then holds twice over."""
    if _version() >= (1, 21):
        pytest.skip("PgBouncer 1.21 and later track prepared statements "
                    "(max_prepared_statements)")
    first, second = bouncer.connect("single"), bouncer.connect("single")
    try:
        for _ in range(6):
            first.execute("SELECT 1 + %s", (1,))
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            for _ in range(6):
                second.execute("SELECT 1 + %s", (1,))
    finally:
        first.close()
        second.close()


def test_the_pooler_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    environ = {"LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
               "LOYALPASS_DATABASE_URL": "postgresql://app@pgbouncer:6432/loyalpass",
               "LOYALPASS_DIRECT_DATABASE_URL": "postgresql://app@db:5432/loyalpass",
               "LOYALPASS_PREPARED_STATEMENTS": "0"}
    config = Config.from_env(environ)
    assert config.session_database_url == "postgresql+psycopg://app@db:5432/loyalpass"
    assert config.prepared_statements is False
    del environ["LOYALPASS_DIRECT_DATABASE_URL"], environ["LOYALPASS_PREPARED_STATEMENTS"]
    config = Config.from_env(environ)
    assert config.session_database_url == "postgresql+psycopg://app@pgbouncer:6432/loyalpass"
    assert config.prepared_statements is True


@pytest.mark.parametrize(("variable", "value"), [
    ("LOYALPASS_DIRECT_DATABASE_URL", "mysql://root@db/loyalpass"),
    ("LOYALPASS_PREPARED_STATEMENTS", "sometimes"),
])
def test_an_unusable_pooler_setting_fails_naming_its_variable(
        tmp_path: Path, variable: str, value: str) -> None:
    environ = {"LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
               "LOYALPASS_DATABASE_URL": "postgresql://app@pgbouncer:6432/loyalpass",
               variable: value}
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(environ)
