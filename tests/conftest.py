"""Fixtures shared by the whole suite: real databases, a development certificate chain,
the Flask app and an API client.

Database-backed tests run on SQLite and on the local PostgreSQL server
(``LOYALPASS_TEST_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432``);
when that server cannot be reached, the PostgreSQL variants skip and say why.

Safe under pytest-xdist (``-n``): each worker process creates a PostgreSQL database of its
own (a random name), works in its own temporary directories (``tmp_path``), takes free
ports from the system and launches its own Chromium; only the controller compiles the
gettext catalogs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app import create_app
from app.config import Config
from app.db import Base, make_engine
from app.migrations import upgrade
from app.wallet.identity import write_development_chain

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def load_build_catalogs() -> Any:
    """The build hook that compiles the gettext catalogs (it sits beside pyproject.toml,
    outside any package)."""
    spec = importlib.util.spec_from_file_location(
        "build_catalogs", PROJECT_ROOT / "build_catalogs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the catalogs in place, as an editable install does: a worktree run with
    PYTHONPATH reads the translations of its .po files as they are now. Under pytest-xdist
    the controller compiles them before it starts its workers, which only read them (a
    worker rewriting a .mo file another one is reading would hand it a torn catalog)."""
    if hasattr(session.config, "workerinput"):
        return
    build_catalogs = load_build_catalogs()
    source = PROJECT_ROOT / build_catalogs.CATALOGS
    build_catalogs.compile_catalogs(source, source)


POSTGRES_SERVER = os.environ.get(
    "LOYALPASS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
BASE_URL = "https://cards.example.test"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure means: no server to test against
        reason = str(error).strip().splitlines()[0]
        return f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {reason}"
    return None


POSTGRES_PROBLEM = _postgres_problem()


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("certs")
    write_development_chain(path)
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if POSTGRES_PROBLEM is not None:
        pytest.skip(POSTGRES_PROBLEM)
    name = f"loyalpass_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_SERVER}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _emptying_statement() -> str:
    """One server-side block that deletes every row of the app's tables (children first)
    and restarts each sequence that has handed out a value, as ``TRUNCATE … RESTART
    IDENTITY`` would. Plain DELETEs on the few rows a test writes take milliseconds where
    TRUNCATE, which gives every table and index a new file, took about a second."""
    deletes = " ".join(f'DELETE FROM "{table.name}";'
                       for table in reversed(Base.metadata.sorted_tables))
    return (
        "DO $$ DECLARE used record; BEGIN "
        f"{deletes} "
        "FOR used IN SELECT format('%I.%I', schemaname, sequencename) AS name, start_value"
        " FROM pg_sequences WHERE last_value IS NOT NULL LOOP"
        " PERFORM setval(used.name, used.start_value, false); END LOOP; END $$")


def _truncate_postgres(url: str) -> None:
    """Empty the test database: no rows in any table, identities starting over."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text(_emptying_statement()))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "loyalpass.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def config(database_url: str, certs_dir: Path, tmp_path: Path) -> Config:
    return Config(
        database_url=database_url,
        base_url=BASE_URL,
        secret_key="test-secret-key-0123456789abcdef",
        certs_dir=certs_dir,
        instance_dir=tmp_path / "instance",
        development=False,
        worker="external",  # tests that want the inline worker start it themselves
    )


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    application = create_app(config)
    yield application
    application.extensions["loyalpass"].stop_workers()
    application.extensions["loyalpass"].engine.dispose()


@pytest.fixture
def engine(app: Flask) -> Engine:
    value: Engine = app.extensions["loyalpass"].engine
    return value


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["loyalpass"].sessions() as value:
        yield value


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Api:
    """A JSON client that carries one API key."""

    client: FlaskClient
    key: str

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self._headers(kwargs.pop("headers", None)),
                               **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=body,
                                headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.client.patch(path, json=body,
                                 headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path: str, data: bytes, content_type: str, **kwargs: Any) -> Any:
        return self.client.put(path, data=data, content_type=content_type,
                               headers=self._headers(kwargs.pop("headers", None)), **kwargs)


def new_merchant(client: FlaskClient, session: Session, name: str = "Kava Bar") -> Api:
    from app.merchants.service import create_merchant

    email = f"{uuid.uuid4().hex[:8]}@{name.lower().replace(' ', '')}.example"
    created = create_merchant(session, name=name, email=email)
    return Api(client, created.api_key)


@pytest.fixture
def api(client: FlaskClient, session: Session) -> Api:
    return new_merchant(client, session)


@pytest.fixture
def program(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {
        "name": "Kava Club", "currency": "UAH", "earn_percent": 2, "locales": ["uk", "en", "ru"],
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2},
                  {"name": "Gold", "min_spend": 500000, "earn_percent": 3}],
    })
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


@pytest.fixture
def card(api: Api, program: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Олена Коваленко", "email": "olena@example.com"})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def database_kind(url: str) -> str:
    return make_url(url).get_backend_name()


def count_rows(session: Session, model: type) -> int:
    """Rows of a table as a fresh transaction sees them; the transaction ends at once so
    that the test never holds SQLite's write lock while the app works."""
    from sqlalchemy import func, select

    session.rollback()
    try:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        session.rollback()
