"""What an operator scrapes from ``/metrics`` after real actions: purchases, refunds,
adjustments and expiry counted by kind once committed; a push through the stand-in APNs
answered 410; a mail the server refuses; the channels' backlog read from the database
(on indexes); Google's updates and quota; and a worker's own metrics, on its port or in
the multiprocess folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app import create_app
from app.clock import utcnow
from app.config import Config, ConfigError
from app.db import make_engine, make_session_factory
from app.delivery.backlog import BACKLOG, QUEUES, backlog_families
from app.delivery.fanout import drain_outbox
from app.delivery.mail import MailSync, make_mail_sender
from app.delivery.webhook_client import PinnedSender
from app.delivery.webhooks import WebhookSync
from app.devices.models import Registration
from app.ledger.maintenance import expire_points
from app.ledger.models import LedgerEntry
from app.merchants.models import Program
from app.webhooks.models import WebhookDelivery
from tests.apns_standin import UNREGISTERED, ApnsStandIn, write_test_certificates
from tests.conftest import Api
from tests.google_standin import google_error
from tests.metrics_helpers import grew, names, parse, scrape, value
from tests.push_helpers import install, register, wait_for
from tests.smtp_standin import SmtpStandIn, free_port
from tests.test_card_recovery import join
from tests.test_google_sync import (  # noqa: F401 (fixtures)
    Google,
    enroll,
    google,
    google_certs,
    make_program,
    newest_version_in,
    standin,
)
from tests.test_pos_api import buy
from tests.webhook_receiver import Receiver

ENTRIES, WRITES = "loyalpass_ledger_entries_total", "loyalpass_ledger_writes_total"
PUSHES = "loyalpass_apns_pushes_total"
KINDS = ("welcome", "earn", "redeem", "bonus", "adjust", "reverse", "expire")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _entries_by_kind(session: Session) -> dict[str, int]:
    session.rollback()
    rows = session.execute(select(LedgerEntry.kind, func.count())
                           .group_by(LedgerEntry.kind)).all()
    session.rollback()
    return {kind: int(count) for kind, count in rows}


def test_ledger_writes_are_counted_by_kind_once_committed_and_refusals_count_nothing(
    client: FlaskClient, api: Api, program: dict[str, Any], card: dict[str, Any],
    session: Session,
) -> None:
    before = scrape(client)
    first = buy(api, card, 100_000, key="first")  # 2 %: 20 points
    assert first.status_code == 201
    assert buy(api, card, 100_000, key="first").status_code == 201  # a replay
    assert buy(api, card, 10_000, redeem=10).status_code == 201
    assert buy(api, card, 10_000, redeem=10_000).status_code == 409  # insufficient points
    purchase_id = first.get_json()["id"]
    assert api.post(f"/api/v1/pos/purchases/{purchase_id}/refund", {"amount": 50_000},
                    headers=_key()).status_code == 201
    adjustments = f"/api/v1/cards/{card['id']}/adjustments"
    assert api.post(adjustments, {"points": 5, "reason": "apology"},
                    headers=_key()).status_code == 201
    assert api.post(adjustments, {"points": -10_000, "reason": "too much"},
                    headers=_key()).status_code == 409
    session.execute(update(Program).values(points_expire_days=1))
    session.execute(update(LedgerEntry).values(created_at=utcnow() - timedelta(days=3)))
    session.commit()
    assert expire_points(session).cards == 1
    after = scrape(client)

    assert grew(before, after, WRITES, operation="purchase") == 2
    assert grew(before, after, WRITES, operation="refund") == 1
    assert grew(before, after, WRITES, operation="adjustment") == 1
    assert grew(before, after, WRITES, operation="expiration") == 1
    written = _entries_by_kind(session)
    assert written["earn"] == 2 and written["redeem"] == 1 and written["expire"] == 1
    assert {kind: grew(before, after, ENTRIES, kind=kind) for kind in KINDS} == {
        kind: written.get(kind, 0) for kind in KINDS}


@pytest.fixture
def apns(tmp_path: Path, certs_dir: Path) -> Iterator[tuple[ApnsStandIn, Path]]:
    """A stand-in APNs on loopback that trusts the development pass chain."""
    server = write_test_certificates(tmp_path)
    trusted = tmp_path / "trusted-clients.pem"
    trusted.write_bytes((certs_dir / "root.pem").read_bytes()
                        + (certs_dir / "wwdr.pem").read_bytes())
    running = ApnsStandIn(certificate_file=server.server_certificate,
                          key_file=server.server_key, client_ca_file=trusted).start()
    yield running, server.server_ca
    running.stop()


def test_a_push_apns_answers_410_shows_as_unregistered_beside_the_one_sent(
    config: Config, apns: tuple[ApnsStandIn, Path], session: Session,
) -> None:
    apple, server_ca = apns
    app = create_app(config.with_changes(worker="inline", apns_url=apple.origin,
                                         apns_ca_file=server_ca))
    try:
        client = app.test_client()
        owner = _owner(app)
        program = owner.post("/api/v1/programs", {"name": "Push"}).get_json()
        card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                          {"name": "P", "email": "p@example.com"}).get_json()
        installed = install(client, card)
        gone, kept = "0a" * 32, "0b" * 32
        apple.answer(gone, UNREGISTERED)
        before = scrape(client)
        assert register(client, installed, "old-iphone", gone) == 201
        assert register(client, installed, "iphone", kept) == 201
        assert buy(owner, card, 1_000).status_code == 201

        def pushed() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            after = scrape(client)
            sent = [r for r in apple.requests if r.token == kept]
            counted = (grew(before, after, PUSHES, result="sent", reason="none"),
                       grew(before, after, PUSHES, result="unregistered",
                            reason="Unregistered"))
            return after if sent and counted == (len(sent), 1) else {}

        after = wait_for_value(pushed)
        assert grew(before, after, PUSHES, result="retry", reason="none") == 0
        text = client.get("/metrics").get_data(as_text=True)
        for secret in (gone, kept, installed["serial"], card["number"]):
            assert secret not in text
    finally:
        app.extensions["loyalpass"].stop_workers()
        app.extensions["loyalpass"].engine.dispose()


def wait_for_value(produce: Any, timeout: float = 15.0) -> Any:
    """The first truthy value ``produce`` returns within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        produced = produce()
        if produced:
            return produced
        if time.monotonic() > deadline:
            raise AssertionError("not within the time")
        time.sleep(0.05)


def _owner(app: Flask) -> Api:
    from app.merchants.service import create_merchant

    with app.extensions["loyalpass"].sessions() as session:
        created = create_merchant(session, name="Metrics", email=f"{uuid.uuid4().hex}@m.io")
    return Api(app.test_client(), created.api_key)


def test_a_mail_the_server_refuses_for_good_is_counted_failed_and_shown_parked(
    config: Config, program: dict[str, Any], card: dict[str, Any], client: FlaskClient,
) -> None:
    port = free_port()
    mailing = create_app(config.with_changes(smtp_url=f"smtp://127.0.0.1:{port}?timeout=1"))
    try:
        with SmtpStandIn(port=port) as server:
            server.refuse("550 5.1.1 No such mailbox")
            before = scrape(client)
            join(mailing.test_client(), program["slug"], name="x", email="olena@example.com")
            queued = scrape(client)
            assert value(queued, "loyalpass_outbox_pending", channel="mail") == 1
            assert value(queued, "loyalpass_outbox_due", channel="mail") == 1
            assert value(queued, "loyalpass_outbox_failed", channel="mail") == 0
            runtime = mailing.extensions["loyalpass"]
            assert MailSync(sessions=runtime.sessions, sender=make_mail_sender(runtime.config),
                            wallet=runtime.wallet,
                            sender_address=runtime.config.sender_address).run_once() == 1
            after = scrape(client)
    finally:
        mailing.extensions["loyalpass"].engine.dispose()
    assert grew(before, after, "loyalpass_mails_total", result="failed") == 1
    assert grew(before, after, "loyalpass_mails_total", result="sent") == 0
    assert value(after, "loyalpass_outbox_failed", channel="mail") == 1
    assert value(after, "loyalpass_outbox_pending", channel="mail") == 0


def test_a_webhook_receiver_failing_then_answering_shows_a_retry_then_a_delivery(
    config: Config,
) -> None:
    app = create_app(config.with_changes(webhooks_allow_private=True))
    runtime = app.extensions["loyalpass"]
    try:
        client = app.test_client()
        owner = _owner(app)
        program = owner.post("/api/v1/programs", {"name": "Hooks"}).get_json()
        with Receiver() as receiver:
            assert owner.post("/api/v1/webhooks", {"url": receiver.url, "events": [
                "card.created"]}).status_code == 201
            owner.post(f"/api/v1/programs/{program['id']}/cards",
                       {"name": "H", "email": "h@example.com"})
            channel = WebhookSync(sessions=runtime.sessions,
                                  sender=PinnedSender(allow_private=True))
            before = scrape(client)
            receiver.failing = True
            assert channel.run_once() == 1
            failing = scrape(client)
            receiver.failing = False
            with runtime.sessions() as session:
                session.execute(update(WebhookDelivery).values(available_at=utcnow()))
                session.commit()
            assert channel.run_once() == 1
            channel.close()
            after = scrape(client)
    finally:
        runtime.engine.dispose()
    deliveries = "loyalpass_webhook_deliveries_total"
    assert grew(before, failing, deliveries, result="retry") == 1
    assert value(failing, "loyalpass_outbox_pending", channel="webhook") == 1
    assert value(failing, "loyalpass_outbox_due", channel="webhook") == 0  # backing off
    assert grew(failing, after, deliveries, result="delivered") == 1
    assert value(after, "loyalpass_outbox_pending", channel="webhook") == 0


def test_the_backlog_shows_each_channel_waiting_and_how_long_the_oldest_has_been_due(
    app: Flask, client: FlaskClient, api: Api, card: dict[str, Any], session: Session,
) -> None:
    session.execute(text("UPDATE outbox SET status = 'done'"))  # the enrolment's changes
    session.commit()
    empty = scrape(client)
    assert value(empty, "loyalpass_database_up") == 1
    for queue in QUEUES:
        assert value(empty, "loyalpass_outbox_pending", channel=queue.channel) == 0
        assert value(empty, "loyalpass_outbox_oldest_due_age_seconds",
                     channel=queue.channel) == 0
    register(client, install(client, card), "iphone", "0c" * 32)
    assert buy(api, card, 1_000).status_code == 201  # no worker runs: it waits
    waiting = scrape(client)
    assert value(waiting, "loyalpass_outbox_pending", channel="changes") == 1
    assert value(waiting, "loyalpass_outbox_due", channel="changes") == 1
    assert value(waiting, "loyalpass_outbox_pending", channel="apple") == 0

    assert drain_outbox(session) == 1
    session.execute(update(Registration).values(
        push_available_at=utcnow() - timedelta(seconds=90)))
    session.commit()
    fanned = scrape(client)
    assert value(fanned, "loyalpass_outbox_pending", channel="changes") == 0
    assert value(fanned, "loyalpass_outbox_pending", channel="apple") == 1
    assert value(fanned, "loyalpass_outbox_due", channel="apple") == 1
    assert 90 <= value(fanned, "loyalpass_outbox_oldest_due_age_seconds", channel="apple") < 120

    session.execute(update(Registration).values(
        push_available_at=utcnow() + timedelta(minutes=5)))  # backing off after a failure
    session.commit()
    later = scrape(client)
    assert value(later, "loyalpass_outbox_pending", channel="apple") == 1
    assert value(later, "loyalpass_outbox_due", channel="apple") == 0
    assert value(later, "loyalpass_outbox_oldest_due_age_seconds", channel="apple") == 0


@pytest.mark.postgres
def test_the_backlog_statement_reads_every_channel_through_an_index(
    postgres_database: str,
) -> None:
    engine = make_engine(postgres_database)
    try:
        statement = BACKLOG.params(now=utcnow()).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        with engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(
                f"EXPLAIN {statement}"))
    finally:
        engine.dispose()
    assert "Seq Scan" not in plan, plan
    for index in ("ix_outbox_status_available", "ix_registrations_push_due",
                  "ix_google_classes_due", "ix_google_objects_due", "ix_google_messages_due",
                  "ix_mails_due", "ix_webhook_deliveries_due"):
        assert index in plan, plan


def test_a_database_that_does_not_answer_leaves_the_counters_and_says_it_is_down() -> None:
    sessions = make_session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x"))
    with sessions() as session:
        families = {family.name: family for family in backlog_families(session, google_budget=None)}
    assert [sample.value for sample in families["loyalpass_database_up"].samples] == [0]
    assert "loyalpass_outbox_pending" not in families


def test_a_method_nobody_uses_is_counted_as_other_not_as_itself(client: FlaskClient) -> None:
    client.open("/healthz", method="BREW")
    samples = scrape(client)
    assert value(samples, "loyalpass_http_requests_total", method="other",
                 endpoint="unmatched", status="405") >= 1
    assert not any(("method", "BREW") in labels for _, labels in samples)


def test_google_updates_and_a_quota_refusal_are_counted_with_the_request_budget(
    google: Google,  # noqa: F811
) -> None:
    client = google.app.test_client()
    program = make_program(google.api)
    card = enroll(google.api, program, "olena@example.com")
    wait_for(lambda: google.object_id(card) in google.standin.objects, timeout=10)
    google.saved(google.object_id(card))  # Google hears of its purchases from now on
    wait_for(lambda: newest_version_in(google, card), timeout=10)
    before = scrape(client)
    google.standin.fail_next(1, 403, google_error(403, "Quota exceeded", "quotaExceeded",
                                                  "RESOURCE_EXHAUSTED"))
    google.purchase(card, 10_000)

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        after = scrape(client)
        updates = "loyalpass_google_updates_total"
        done = (grew(before, after, updates, kind="object", result="quota_deferred") == 1
                and grew(before, after, updates, kind="object", result="updated") >= 1
                and grew(before, after, "loyalpass_google_requests_total", outcome="ok") >= 1)
        return after if done else {}

    after = wait_for_value(counted, timeout=20)
    assert grew(before, after, "loyalpass_google_requests_total", outcome="quota") == 1
    assert value(after, "loyalpass_google_request_budget_per_second") == \
        google.app.extensions["loyalpass"].config.google_requests_per_second
    assert "loyalpass_google_rate_limit_wait_seconds_total" in names(after)


def _worker_environment(config: Config, certs_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOYALPASS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "LOYALPASS_DATABASE_URL": config.database_url, "LOYALPASS_ENV": "production",
        "LOYALPASS_SECRET_KEY": config.secret_key, "LOYALPASS_CERTS_DIR": str(certs_dir),
        "LOYALPASS_BASE_URL": config.base_url, "LOYALPASS_WORKER": "external", **extra,
    })
    return env


def _a_push_for_the_worker(app: Flask) -> None:
    """A card with a registered device bought on, before the worker starts: one push for
    it (the two changes merge; development certificates: it logs the push, counted
    sent)."""
    owner = _owner(app)
    client = app.test_client()
    program = owner.post("/api/v1/programs", {"name": "Worker"}).get_json()
    card = owner.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": "W", "email": "w@example.com"}).get_json()
    register(client, install(client, card), "iphone", "0d" * 32)
    assert buy(owner, card, 1_000).status_code == 201


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def test_a_worker_serves_its_own_metrics_on_the_port_it_is_given(
    app: Flask, config: Config, certs_dir: Path,
) -> None:
    _a_push_for_the_worker(app)
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)],
        env=_worker_environment(config, certs_dir), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        assert "loyalpass_apns_pushes_total" in wait_for_value(lambda: _fetch(url), 60)
        wait_for_value(lambda: value(parse(_fetch(url) or ""), PUSHES, result="sent",
                                     reason="none") == 1, timeout=60)
    finally:
        _stop(worker)
    assert worker.returncode == 0


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: bytes = response.read()
            return body.decode()
    except OSError:
        return None


def test_a_worker_given_the_multiprocess_folder_writes_its_counts_there(
    app: Flask, config: Config, certs_dir: Path, tmp_path: Path,
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    _a_push_for_the_worker(app)
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=_worker_environment(config, certs_dir, PROMETHEUS_MULTIPROC_DIR=str(folder)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def summed() -> float:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
            return value(parse(generate_latest(registry).decode()), PUSHES, result="sent",
                         reason="none")

        wait_for_value(lambda: summed() == 1, timeout=60)
    finally:
        _stop(worker)
    assert worker.returncode == 0
    assert summed() == 1  # a worker that ended still counts in the sums
    # What /metrics of a web process started with the same folder answers.
    web = subprocess.run(
        [sys.executable, "-c", "import sys; from app.metrics import exposition; "
                               "sys.stdout.write(exposition().decode())"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}, capture_output=True,
        timeout=60, check=True)
    assert value(parse(web.stdout.decode()), PUSHES, result="sent", reason="none") == 1


@pytest.mark.parametrize("port", ["http", "0", "65536", "-1", "9 100", "٩٠"])
def test_a_worker_metrics_port_that_is_no_port_stops_the_start_naming_the_variable(
    tmp_path: Path, port: str,
) -> None:
    with pytest.raises(ConfigError, match=r"^LOYALPASS_WORKER_METRICS_PORT must be a port"):
        Config.from_env({"LOYALPASS_INSTANCE_DIR": str(tmp_path),
                         "LOYALPASS_WORKER_METRICS_PORT": port}, development=True)
    settled = Config.from_env({"LOYALPASS_INSTANCE_DIR": str(tmp_path),
                               "LOYALPASS_WORKER_METRICS_PORT": " 9100 "}, development=True)
    assert (settled.worker_metrics_port, settled.worker_metrics_host) == (9100, "127.0.0.1")


def test_a_worker_whose_metrics_port_is_taken_says_so_in_one_sentence(
    app: Flask, config: Config, certs_dir: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)],
            env=_worker_environment(config, certs_dir), capture_output=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr.decode().strip().endswith(
        f"cannot listen on 127.0.0.1:{port} (Address already in use).")
    assert "Traceback" not in finished.stderr.decode()
