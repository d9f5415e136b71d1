"""Loyalpass: loyalty cards in Apple Wallet and Google Wallet.

``create_app`` builds the Flask service from one ``Config``; everything it needs at run
time (database, certificates) is checked here, at start, so that a bad setting fails with
one sentence instead of at the first request.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config, ConfigError, check_base_url, smtp_settings
from app.db import make_engine, make_session_factory

log = logging.getLogger("loyalpass")

if TYPE_CHECKING:
    from app.integrations.apns import PushSender
    from app.integrations.google import GoogleWallet
    from app.integrations.mail import MailSender
    from app.outbox.wakeups import Wakeups

__all__ = ["Config", "ConfigError", "create_app"]


def create_app(config: Config | None = None, *, push_sender: PushSender | None = None,
               google_client: GoogleWallet | None = None,
               mail_sender: MailSender | None = None) -> Flask:
    """The service. With ``LOYALPASS_WORKER=inline`` the worker threads start here,
    sending through ``push_sender``, ``google_client`` and ``mail_sender`` (tests) or the
    clients the configuration calls for."""
    from app.google_wallet.account import load_google_account
    from app.ledger.purchase_rows import ProgramTerms
    from app.runtime import Runtime
    from app.sql import HeldConnections
    from app.wallet.expiry import log_certificate_warnings
    from app.wallet.identity import check_key_files, load_identity
    from app.wallet.service import Wallet

    config = config or Config.from_env()
    check_base_url(config)  # a Config built by hand too
    check_key_files(config)
    _check_catalogs()
    engine = make_engine(config.database_url, prepared_statements=config.prepared_statements)
    _check_database(engine)
    if config.smtp_url:
        smtp_settings(config.smtp_url)  # a Config built by hand: a bad URL stops here too
    google = load_google_account(config)
    log.info(google_status(config))
    log_certificate_warnings(config)  # weeks ahead of an expiry (then daily: housekeeping)
    sessions = make_session_factory(engine)
    runtime = Runtime(
        config=config,
        engine=engine,
        sessions=sessions,
        wallet=Wallet(config=config, identity=load_identity(config), google=google),
        wakeups=_wakeups(sessions),
        held=HeldConnections(engine),
        terms=ProgramTerms(),
    )
    app = Flask(__name__, instance_path=str(config.instance_dir))
    app.config.update(
        SECRET_KEY=config.secret_key,
        # Sessions and form tokens signed with a previous key stay valid; new ones are
        # signed with the current key (Flask and itsdangerous sign with the last).
        SECRET_KEY_FALLBACKS=list(config.previous_secret_keys),
        WTF_CSRF_SECRET_KEY=[*reversed(config.previous_secret_keys), config.secret_key],
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
    )
    if config.trusted_proxies:
        # The client's address (rate limits, logs) is the one the proxies forwarded.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies)
    app.extensions["loyalpass"] = runtime

    from app.cli import register_cli
    from app.delivery.workers import make_workers
    from app.web import register_web

    register_web(app)
    register_cli(app)
    if config.worker == "inline":  # last: nothing runs until every check has passed
        for loop in make_workers(runtime, push_sender=push_sender, google_client=google_client,
                                 mail_sender=mail_sender, name="inline-worker"):
            loop.start()
    return app


def _check_catalogs() -> None:
    """The compiled translations are there (they are built at install), or one sentence."""
    from app.i18n import CatalogMissing, check_catalogs

    try:
        check_catalogs()
    except CatalogMissing as missing:
        raise ConfigError(str(missing)) from None


def _wakeups(sessions: sessionmaker[Session]) -> Wakeups:
    """The app's own wake-ups, woken by the commits of its sessions (and its purchases)."""
    from app.outbox.wakeups import Wakeups

    wakeups = Wakeups()
    wakeups.watch(sessions)
    return wakeups


def google_status(config: Config) -> str:
    if config.google_issuer_id is None:
        return ("Google Wallet: off (LOYALPASS_GOOGLE_ISSUER_ID is not set); "
                "cards go to Apple Wallet only.")
    return (f"Google Wallet: on, issuer {config.google_issuer_id}, "
            f"API {config.google_api_url}.")


def _check_database(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(error.__cause__ or error).strip().splitlines()[0]
        raise ConfigError(
            f"LOYALPASS_DATABASE_URL: cannot connect to the database ({reason})."
        ) from None
