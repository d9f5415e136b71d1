"""The mail channel: mails leave from the worker through the outbox, never from a web
request; a mail server that hangs, refuses for now or refuses for good is met with
retries and backoff, parked mails are shown to the merchant and can be retried, and a bad
LOYALPASS_SMTP_URL stops the start with one sentence."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.clock import utcnow
from app.config import Config, ConfigError
from app.delivery.mail import MAX_ATTEMPTS, MailSync, make_mail_sender
from app.merchants.models import Program
from app.outbox.models import Mail
from tests.apns_standin import Certificates
from tests.conftest import Api, new_merchant
from tests.push_helpers import wait_for
from tests.smtp_standin import SilentServer, SmtpStandIn, free_port
from tests.test_card_recovery import join, smtp_tls  # noqa: F401 (a fixture)

# aiosmtpd warns when a login is required on a connection it does not count as TLS; an
# smtps connection is TLS from its first byte.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def smtp_port() -> int:
    """The port the test's mail server listens on (or will, once it is back)."""
    return free_port()


@pytest.fixture
def config(config: Config, smtp_port: int) -> Config:
    return config.with_changes(smtp_url=f"smtp://127.0.0.1:{smtp_port}?timeout=1")


@pytest.fixture
def mail_server(smtp_port: int) -> Iterator[SmtpStandIn]:
    with SmtpStandIn(port=smtp_port) as server:
        yield server


def mail_sync(app: Flask) -> MailSync:
    runtime = app.extensions["loyalpass"]
    return MailSync(sessions=runtime.sessions, sender=make_mail_sender(runtime.config),
                    wallet=runtime.wallet, sender_address=runtime.config.sender_address)


def the_mail(session: Session) -> Any:
    """The one mail's state as plain values (its transaction ended: SQLite's lock free)."""
    session.rollback()
    try:
        return session.execute(select(Mail.status, Mail.attempts, Mail.last_error,
                                      Mail.available_at)).one()
    finally:
        session.rollback()


def time_passes(session: Session) -> None:
    """The backoff ran out: every pending mail is due now."""
    session.rollback()
    session.execute(update(Mail).values(available_at=utcnow()))
    session.commit()


def delivered_mails(api: Api, card: dict[str, Any]) -> list[dict[str, Any]]:
    body = api.get(f"/api/v1/cards/{card['id']}/deliveries").get_json()
    mails: list[dict[str, Any]] = body["mails"]
    return mails


@pytest.fixture
def inline(config: Config, smtp_port: int) -> Config:
    return config.with_changes(worker="inline", worker_poll_interval=0.2)


def test_a_hung_mail_server_holds_no_web_request_and_the_mail_goes_once_it_is_back(
    inline: Config, smtp_port: int, session: Session,
) -> None:
    silent = SilentServer(smtp_port).start()
    app = create_app(inline)
    try:
        client = app.test_client()
        with app.extensions["loyalpass"].sessions() as own:
            api = new_merchant(client, own)
        program = api.post("/api/v1/programs", {"name": "Kava Club"}).get_json()
        card = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Olena", "email": "olena@example.com"}).get_json()
        started = time.monotonic()
        answer = join(client, program["slug"], name="x", email="olena@example.com")
        assert time.monotonic() - started < 0.9  # under the mail server's 1 s timeout
        assert answer.status_code == 200 and "Check your mail" in answer.text
        wait_for(lambda: the_mail(session).attempts >= 1, timeout=10)
        time_passes(session)
        _wake(app)
        wait_for(lambda: the_mail(session).attempts >= 2, timeout=10)
        shown = delivered_mails(api, card)[0]
        assert shown["status"] == "pending" and shown["attempts"] >= 2
        assert "timed out" in shown["last_error"] and shown["next_attempt_at"]
        assert shown["kind"] == "card_recovery" and shown["program_id"] == program["id"]
        silent.stop()
        with SmtpStandIn(port=smtp_port) as server:
            time_passes(session)
            _wake(app)
            wait_for(lambda: len(server.mails()) == 1, timeout=10)
            wait_for(lambda: the_mail(session).status == "sent")
        shown = delivered_mails(api, card)[0]
        assert shown["status"] == "sent" and shown["sent_at"] and shown["last_error"] is None
    finally:
        silent.stop()
        app.extensions["loyalpass"].stop_workers()
        app.extensions["loyalpass"].engine.dispose()


def _wake(app: Flask) -> None:
    for loop in app.extensions["loyalpass"].workers:
        loop.wake()


def test_a_mail_server_that_is_down_costs_an_attempt_and_the_mail_waits(
    app: Flask, client: FlaskClient, api: Api, program: dict[str, Any],
    card: dict[str, Any], session: Session,
) -> None:
    join(client, program["slug"], name="x", email="olena@example.com")  # nothing listens
    assert mail_sync(app).run_once() == 1
    shown = delivered_mails(api, card)[0]
    assert (shown["status"], shown["attempts"]) == ("pending", 1)
    assert "refused" in shown["last_error"].lower()
    assert "hunter2" not in repr(app.extensions["loyalpass"].config.with_changes(
        smtp_url="smtps://u:hunter2@mail.example.com"))


def test_a_server_refusing_for_now_gets_the_mail_again_after_the_backoff(
    app: Flask, client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    mail_server.refuse("451 4.3.0 Try again later")
    join(client, program["slug"], name="x", email="olena@example.com")
    sync = mail_sync(app)
    assert sync.run_once() == 1
    mail = the_mail(session)
    assert (mail.status, mail.attempts) == ("pending", 1)
    assert mail.last_error is not None and "451" in mail.last_error
    assert mail.available_at > utcnow()
    assert sync.run_once() == 0  # not due yet
    mail_server.refuse(None)
    time_passes(session)
    assert sync.run_once() == 1
    assert the_mail(session).status == "sent"
    assert len(mail_server.mails()) == 1


def test_a_mail_refused_for_good_is_parked_shown_to_the_merchant_and_sent_when_retried(
    app: Flask, client: FlaskClient, api: Api, program: dict[str, Any],
    card: dict[str, Any], mail_server: SmtpStandIn, session: Session,
) -> None:
    mail_server.refuse("550 5.1.1 No such mailbox")
    join(client, program["slug"], name="x", email="olena@example.com")
    sync = mail_sync(app)
    sync.run_once()
    shown = delivered_mails(api, card)[0]
    assert (shown["status"], shown["attempts"]) == ("failed", 1)
    assert "550" in shown["last_error"] and shown["next_attempt_at"] is None
    assert sync.run_once() == 0
    other = new_merchant(client, session, "Other Bar")
    assert other.get(f"/api/v1/cards/{card['id']}/deliveries").status_code == 404
    mail_server.refuse(None)
    assert api.post(f"/api/v1/cards/{card['id']}/deliveries/retry").get_json()["requeued"] == 1
    assert sync.run_once() == 1
    assert delivered_mails(api, card)[0]["status"] == "sent"
    assert len(mail_server.mails()) == 1


def test_after_its_last_attempt_a_mail_is_parked_as_failed_and_logged(
    app: Flask, client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session, caplog: pytest.LogCaptureFixture,
) -> None:
    mail_server.refuse("421 4.7.0 Too busy, try later")
    join(client, program["slug"], name="x", email="olena@example.com")
    session.execute(update(Mail).values(attempts=MAX_ATTEMPTS - 1))
    session.commit()
    with caplog.at_level(logging.ERROR, logger="loyalpass.mail"):
        mail_sync(app).run_once()
    mail = the_mail(session)
    assert (mail.status, mail.attempts) == ("failed", MAX_ATTEMPTS)
    assert f"parked as failed after {MAX_ATTEMPTS} attempts" in caplog.text


def test_a_mail_that_cannot_be_written_is_parked_not_tried_every_round(
    app: Flask, client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    join(client, program["slug"], name="x", email="olena@example.com")
    session.execute(update(Program).values(name="Kava\nBcc: everyone@example.com"))
    session.commit()
    sync = mail_sync(app)
    assert sync.run_once() == 1
    mail = the_mail(session)
    assert (mail.status, mail.attempts) == ("failed", 0)
    assert "could not be written" in mail.last_error
    assert sync.run_once() == 0 and mail_server.mails() == []


def test_a_refused_login_is_retried_and_logged_naming_the_setting(
    client: FlaskClient, program: dict[str, Any],
    card: dict[str, Any], smtp_tls: Certificates, session: Session,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SmtpStandIn(tls=(smtp_tls.server_certificate, smtp_tls.server_key),
                     implicit_tls=True, login=("user", "right")) as server:
        join(client, program["slug"], name="x", email="olena@example.com")
        runtime = client.application.extensions["loyalpass"]
        wrong = runtime.config.with_changes(
            smtp_url=f"smtps://user:wrong@127.0.0.1:{server.port}",
            smtp_ca_file=smtp_tls.server_ca)
        sync = MailSync(sessions=runtime.sessions, sender=make_mail_sender(wrong),
                        wallet=runtime.wallet, sender_address=wrong.sender_address)
        with caplog.at_level(logging.ERROR, logger="loyalpass.mail"):
            sync.run_once()
        mail = the_mail(session)
        assert (mail.status, mail.attempts) == ("pending", 1)
        assert mail.last_error is not None and "535" in mail.last_error
        assert "LOYALPASS_SMTP_URL" in caplog.text and "wrong" not in caplog.text
        assert server.mails() == []


def test_implicit_tls_with_a_login_delivers_the_mail_from_the_configured_address(
    config: Config, smtp_tls: Certificates, session: Session,  # noqa: F811
) -> None:
    with SmtpStandIn(tls=(smtp_tls.server_certificate, smtp_tls.server_key),
                     implicit_tls=True, login=("cards", "secret")) as server:
        app = create_app(config.with_changes(
            smtp_url=f"smtps://cards:secret@127.0.0.1:{server.port}",
            smtp_ca_file=smtp_tls.server_ca, mail_from="Kava Club <cards@kava.example>"))
        try:
            client = app.test_client()
            with app.extensions["loyalpass"].sessions() as own:
                api = new_merchant(client, own)
            program = api.post("/api/v1/programs", {"name": "Kava Club"}).get_json()
            api.post(f"/api/v1/programs/{program['id']}/cards",
                     {"name": "Olena", "email": "olena@example.com"})
            join(client, program["slug"], name="x", email="olena@example.com")
            assert mail_sync(app).run_once() == 1
            mail = server.mails()[0]
            assert mail["From"] == "Kava Club <cards@kava.example>"
            assert server.authenticated == [True]
        finally:
            app.extensions["loyalpass"].engine.dispose()


def test_in_development_without_an_smtp_url_the_mail_is_written_to_the_log(
    config: Config, caplog: pytest.LogCaptureFixture,
) -> None:
    # In production only its subject is (tests/test_structured_logs.py).
    app = create_app(config.with_changes(smtp_url=None, development=True))
    try:
        client = app.test_client()
        with app.extensions["loyalpass"].sessions() as own:
            api = new_merchant(client, own)
        program = api.post("/api/v1/programs", {"name": "Kava Club"}).get_json()
        api.post(f"/api/v1/programs/{program['id']}/cards",
                 {"name": "Olena", "email": "olena@example.com"})
        join(client, program["slug"], name="x", email="olena@example.com")
        with caplog.at_level(logging.INFO, logger="loyalpass.mail"):
            assert mail_sync(app).run_once() == 1
        assert "Subject: Your Kava Club card" in caplog.text
        assert "From: no-reply@cards.example.test" in caplog.text
        link = next(word for word in caplog.text.split() if "/r/" in word)
        assert app.test_client().get(urlsplit(link).path).status_code == 200
    finally:
        app.extensions["loyalpass"].engine.dispose()


@pytest.mark.parametrize("url", [
    "http://mail.example.com", "smtp://", "smtp://mail.example.com:99999",
    "smtp://mail.example.com:port", "smtp://user:hunter2secret@mail.example.com",
    "smtps://mail.example.com?starttls=1", "smtp://mail.example.com?tls=1",
    "smtp://mail.example.com?timeout=soon", "smtp://user@mail.example.com?starttls=1",
])
def test_an_unusable_smtp_url_stops_the_start_naming_the_variable_not_the_password(
    tmp_path: Path, config: Config, url: str,
) -> None:
    environ = {"LOYALPASS_SMTP_URL": url, "LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"^LOYALPASS_SMTP_URL ") as error:
        Config.from_env(environ, development=True)
    assert "hunter2" not in str(error.value) and str(error.value).count(". ") == 0
    with pytest.raises(ConfigError, match=r"^LOYALPASS_SMTP_URL "):
        create_app(config.with_changes(smtp_url=url))


def test_the_mail_settings_read_as_documented(tmp_path: Path) -> None:
    def read(**environ: str) -> Config:
        return Config.from_env({"LOYALPASS_INSTANCE_DIR": str(tmp_path), **environ},
                               development=True)

    plain = read(LOYALPASS_SMTP_URL="smtp://relay.internal").smtp
    assert plain is not None and (plain.host, plain.port, plain.security) == (
        "relay.internal", 25, "none")
    login = read(LOYALPASS_SMTP_URL="smtp://me%40x.com:p%3Ass@mail.x.com:587?starttls=1"
                                    "&timeout=3").smtp
    assert login is not None and (login.username, login.password, login.port) == (
        "me@x.com", "p:ss", 587)
    assert (login.security, login.timeout) == ("starttls", 3.0)
    assert "p:ss" not in repr(login)
    tls = read(LOYALPASS_SMTP_URL="smtps://u:p@mail.x.com").smtp
    assert tls is not None and (tls.port, tls.security) == (465, "tls")
    assert read().smtp is None
    assert read(LOYALPASS_BASE_URL="https://cards.kava.example:8443").sender_address == \
        "no-reply@cards.kava.example"
    assert read().sender_address == "no-reply@[127.0.0.1]"
    assert read(LOYALPASS_MAIL_FROM="Kava <a@kava.example>").sender_address == \
        "Kava <a@kava.example>"
    with pytest.raises(ConfigError, match=r"^LOYALPASS_MAIL_FROM "):
        read(LOYALPASS_MAIL_FROM="not an address")
