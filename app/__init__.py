"""Loyalpass: loyalty cards in Apple Wallet and Google Wallet.

``create_app`` builds the Flask service from one ``Config``; everything it needs at run
time (database, certificates) is checked here, at start, so that a bad setting fails with
one sentence instead of at the first request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.config import Config, ConfigError
from app.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from app.integrations.apns import PushSender
    from app.runtime import Runtime

__all__ = ["Config", "ConfigError", "create_app"]


def create_app(config: Config | None = None, *, push_sender: PushSender | None = None) -> Flask:
    """The service. With ``LOYALPASS_WORKER=inline`` a push worker thread starts here,
    sending through ``push_sender`` (tests) or the sender the configuration calls for."""
    from app.runtime import Runtime
    from app.wallet.identity import load_identity
    from app.wallet.service import Wallet

    config = config or Config.from_env()
    engine = make_engine(config.database_url)
    _check_database(engine)
    runtime = Runtime(
        config=config,
        engine=engine,
        sessions=make_session_factory(engine),
        wallet=Wallet(config=config, identity=load_identity(config)),
    )
    app = Flask(__name__, instance_path=str(config.instance_dir))
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["loyalpass"] = runtime
    if config.worker == "inline":
        _start_inline_worker(runtime, push_sender)

    from app.cli import register_cli
    from app.web import register_web

    register_web(app)
    register_cli(app)
    return app


def _start_inline_worker(runtime: Runtime, push_sender: PushSender | None) -> None:
    from app.sync.senders import make_sender
    from app.sync.worker import Worker

    sender = push_sender or make_sender(
        runtime.config, development_chain=runtime.wallet.is_development_chain)
    worker = Worker(sessions=runtime.sessions, sender=sender,
                    topic=runtime.wallet.pass_type_identifier, name="inline-worker",
                    poll_interval=runtime.config.worker_poll_interval,
                    lease=timedelta(seconds=runtime.config.push_lease_seconds))
    runtime.workers.append(worker)
    worker.start()


def _check_database(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(error.__cause__ or error).strip().splitlines()[0]
        raise ConfigError(
            f"LOYALPASS_DATABASE_URL: cannot connect to the database ({reason})."
        ) from None
