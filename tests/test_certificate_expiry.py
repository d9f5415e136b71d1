"""The certificates' expiry, watched: /readyz fails (503) while one does not load or
expires within 30 days and names each with its expiry and the days left; the owners'
dashboard and the log warn from 45 days on. The certificates are development chains
minted to expire when the test needs."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.config import Config
from app.delivery.housekeeping import Housekeeping
from app.wallet.expiry import READY_DAYS, WARN_DAYS, CertificateWatch, certificate_health
from app.wallet.identity import write_development_chain
from passes.apple import make_development_chain
from tests.dashboard_helpers import member, merchant_with_owner, signed_in
from tests.google_helpers import make_service_account, write_google_json


def _chain(folder: Path, *, leaf_days: float = 1095, wwdr_days: float = 3285) -> Path:
    """A development chain in ``folder`` whose pass certificate and WWDR expire in about
    that many days (less the hour the chain is backdated)."""
    folder.mkdir(parents=True, exist_ok=True)
    chain = make_development_chain(leaf_days=leaf_days, wwdr_days=wwdr_days)
    for name, data in (("wwdr.pem", chain.wwdr_pem), ("pass.pem", chain.certificate_pem),
                       ("root.pem", chain.root_pem), ("pass.key", chain.private_key_pem)):
        (folder / name).write_bytes(data)
    (folder / "pass.key").chmod(0o600)
    return folder


@pytest.fixture
def app_on(config: Config) -> Iterator[list[Flask]]:
    """Apps started on the test's database with certificates of the test's choosing."""
    started: list[Flask] = []
    yield started
    for app in started:
        app.extensions["loyalpass"].engine.dispose()


def _start(started: list[Flask], config: Config, certs: Path, **changes: object) -> Flask:
    app = create_app(config.with_changes(certs_dir=certs, **changes))
    started.append(app)
    return app


def test_a_fresh_chain_is_ready_and_each_certificate_is_named_with_its_expiry(
        config: Config, app_on: list[Flask], tmp_path: Path) -> None:
    app = _start(app_on, config, _chain(tmp_path / "certs"))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok" and body["database"] == "up"
    assert body["migration"] == body["expected_migration"]  # the keys it always had
    assert set(body["certificates"]) == {"pass_certificate", "wwdr"}  # Google is off
    passes = body["certificates"]["pass_certificate"]
    assert passes["file"] == "pass.pem" and passes["status"] == "ok"
    assert passes["days_left"] == 1094  # 1095 days from an hour ago
    expires = datetime.fromisoformat(passes["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=1095, hours=-1))) \
        < timedelta(minutes=5)
    assert body["certificates"]["wwdr"]["days_left"] == 3284


def test_a_pass_certificate_expiring_within_30_days_makes_readyz_503_naming_it(
        config: Config, app_on: list[Flask], tmp_path: Path) -> None:
    app = _start(app_on, config, _chain(tmp_path / "certs", leaf_days=20))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unavailable" and body["database"] == "up"
    assert body["certificates"]["pass_certificate"]["status"] == "expiring"
    assert body["certificates"]["pass_certificate"]["days_left"] == 19
    assert body["certificates"]["wwdr"]["status"] == "ok"


def test_a_wwdr_expiring_in_29_days_fails_and_one_in_31_days_passes(tmp_path: Path) -> None:
    soon = Config(database_url="sqlite://", base_url="https://cards.example.test",
                  secret_key="s" * 32, certs_dir=_chain(tmp_path / "soon", wwdr_days=29),
                  instance_dir=tmp_path)
    later = soon.with_changes(certs_dir=_chain(tmp_path / "later", wwdr_days=31 + 1 / 12))
    (wwdr_soon,) = [one for one in certificate_health(soon) if one.name == "wwdr"]
    (wwdr_later,) = [one for one in certificate_health(later) if one.name == "wwdr"]
    assert not wwdr_soon.ready and wwdr_soon.needs_attention
    assert wwdr_later.ready and wwdr_later.needs_attention  # warned of from 45 days
    assert READY_DAYS == 30 and WARN_DAYS == 45


def test_a_certificate_replaced_on_disk_by_a_broken_or_expired_one_is_seen_without_a_restart(
        config: Config, app_on: list[Flask], tmp_path: Path) -> None:
    certs = _chain(tmp_path / "certs")
    app = _start(app_on, config, certs)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    (certs / "pass.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n")
    body = client.get("/readyz").get_json()
    assert body["status"] == "unavailable"
    broken = body["certificates"]["pass_certificate"]
    assert broken["status"] == "unloadable" and broken["expires_at"] is None
    assert "not a readable PEM or DER X.509 certificate" in broken["problem"]
    expired = make_development_chain(leaf_days=1 / 48)  # ended half an hour ago
    (certs / "pass.pem").write_bytes(expired.certificate_pem)
    (certs / "pass.key").write_bytes(expired.private_key_pem)
    (certs / "wwdr.pem").write_bytes(expired.wwdr_pem)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    gone = answer.get_json()["certificates"]["pass_certificate"]
    assert gone["status"] == "expired" and gone["days_left"] == -1
    assert "expired on" in gone["problem"]


def test_a_key_that_does_not_match_is_reported_on_the_pass_certificate(tmp_path: Path) -> None:
    certs = _chain(tmp_path / "certs")
    (certs / "pass.key").write_bytes(make_development_chain().private_key_pem)
    config = Config(database_url="sqlite://", base_url="https://cards.example.test",
                    secret_key="s" * 32, certs_dir=certs, instance_dir=tmp_path)
    named = {one.name: one for one in certificate_health(config)}
    assert named["pass_certificate"].status == "unloadable"
    assert "does not belong to the pass certificate" in str(named["pass_certificate"].problem)
    assert named["wwdr"].ready


def test_google_s_key_is_named_when_google_is_on_and_fails_when_it_stops_loading(
        config: Config, app_on: list[Flask], tmp_path: Path) -> None:
    certs = _chain(tmp_path / "certs")
    info, _key = make_service_account("https://oauth2.example.test/token")
    write_google_json(certs, info)
    app = _start(app_on, config, certs, google_issuer_id="3388000000022000000")
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 200
    google = answer.get_json()["certificates"]["google_key"]
    assert google == {"file": "google.json", "status": "ok", "expires_at": None,
                      "days_left": None}  # a key file names no expiry
    write_google_json(certs, {**info, "private_key": "not a key"})
    answer = client.get("/readyz")
    assert answer.status_code == 503
    google = answer.get_json()["certificates"]["google_key"]
    assert google["status"] == "unloadable"
    assert google["problem"].startswith("the Google service account private_key is unusable")
    assert "not a key" not in answer.get_data(as_text=True)  # nothing of the file itself


def test_the_watch_reads_the_files_again_only_when_they_change(tmp_path: Path) -> None:
    certs = _chain(tmp_path / "certs")
    config = Config(database_url="sqlite://", base_url="https://cards.example.test",
                    secret_key="s" * 32, certs_dir=certs, instance_dir=tmp_path)
    watch = CertificateWatch(config)
    first = watch.health()
    entries = watch._entries
    again = watch.health()
    assert watch._entries is entries  # stat'ed only
    assert [(one.name, one.expires_at) for one in again] == \
        [(one.name, one.expires_at) for one in first]
    replacement = make_development_chain(leaf_days=10)
    (certs / "pass.pem").write_bytes(replacement.certificate_pem)
    (certs / "pass.key").write_bytes(replacement.private_key_pem)
    (certs / "wwdr.pem").write_bytes(replacement.wwdr_pem)
    os.utime(certs / "pass.pem", ns=(1, 1))  # a new mtime even within the same tick
    named = {one.name: one for one in watch.health()}
    assert watch._entries is not entries and named["pass_certificate"].days_left == 9


def test_the_start_logs_a_warning_weeks_ahead_naming_the_file_and_the_days(
        config: Config, app_on: list[Flask], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    certs = _chain(tmp_path / "certs", leaf_days=40)
    with caplog.at_level(logging.WARNING, logger="loyalpass.certs"):
        _start(app_on, config, certs)
    warnings = [record.getMessage() for record in caplog.records
                if record.name == "loyalpass.certs"]
    assert warnings == [
        f"{certs / 'pass.pem'} expires on "
        f"{(datetime.now(UTC) + timedelta(days=40, hours=-1)):%Y-%m-%d}, in 39 days: renew "
        "it and replace the file before then, or passes can be neither signed nor updated "
        "and pushes stop."]


def test_the_start_says_nothing_of_certificates_far_from_expiry(
        config: Config, app_on: list[Flask], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="loyalpass.certs"):
        _start(app_on, config, _chain(tmp_path / "certs"))
    assert [record for record in caplog.records if record.name == "loyalpass.certs"] == []


def test_the_worker_s_housekeeping_warns_again_once_a_day(
        config: Config, app_on: list[Flask], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    app = _start(app_on, config, _chain(tmp_path / "certs", wwdr_days=12))
    runtime = app.extensions["loyalpass"]
    housekeeping = Housekeeping(runtime.sessions, name="test-housekeeping",
                                config=runtime.config)
    assert housekeeping.certificates_every == 86_400
    caplog.clear()  # the start's own warning
    with caplog.at_level(logging.WARNING, logger="loyalpass.certs"):
        housekeeping.run_once()  # the start warned a moment ago: not yet
        assert [r for r in caplog.records if r.name == "loyalpass.certs"] == []
        housekeeping.certificates_due = 0.0  # a day has passed
        housekeeping.run_once()
        housekeeping.run_once()  # and the next is a day on again
    warnings = [r.getMessage() for r in caplog.records if r.name == "loyalpass.certs"]
    assert len(warnings) == 1
    assert "wwdr.pem expires on" in warnings[0] and "in 11 days" in warnings[0]
    assert "passes can no longer be signed" in warnings[0]


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "The pass certificate (pass.pem) expires on {date}, in 39 days: renew it with "
           "Apple and replace it before then, or passes can be neither signed nor updated."),
    ("ru", "Сертификат карт (pass.pem) истекает {date}, через 39 дней: продлите его в Apple "
           "и замените до этого, иначе карты нельзя будет ни подписывать, ни обновлять."),
    ("uk", "Сертифікат карток (pass.pem) спливає {date}, через 39 днів: подовжте його в Apple "
           "і замініть до того, інакше картки не можна буде ні підписувати, ні оновлювати."),
])
def test_the_owners_dashboard_warns_weeks_before_the_pass_certificate_expires(
        config: Config, app_on: list[Flask], tmp_path: Path, language: str,
        expected: str) -> None:
    from babel.dates import format_date

    app = _start(app_on, config, _chain(tmp_path / "certs", leaf_days=40))
    assert app.test_client().get("/readyz").status_code == 200  # 39 days: ready still
    with app.extensions["loyalpass"].sessions() as session:
        owner = merchant_with_owner(session)
        member(session, owner.merchant_id, "manager", "manager@kava.example")
    client = signed_in(app, owner.owner_email)
    page = client.get(f"/dashboard/?lang={language}").get_data(as_text=True)
    date = format_date(datetime.now(UTC) + timedelta(days=40, hours=-1), format="medium",
                       locale=language)
    assert expected.format(date=date) in page.replace("&#39;", "'")
    manager = signed_in(app, "manager@kava.example").get("/dashboard/").get_data(as_text=True)
    assert "pass.pem" not in manager  # the service's certificates are the owners' concern


def test_the_dashboard_names_an_expired_wwdr_and_a_broken_pass_certificate(
        config: Config, app_on: list[Flask], tmp_path: Path) -> None:
    certs = _chain(tmp_path / "certs")
    app = _start(app_on, config, certs)
    with app.extensions["loyalpass"].sessions() as session:
        owner = merchant_with_owner(session)
    client = signed_in(app, owner.owner_email)
    assert "certificate" not in client.get("/dashboard/").get_data(as_text=True)
    expired = make_development_chain(wwdr_days=1 / 48)
    (certs / "wwdr.pem").write_bytes(expired.wwdr_pem)
    page = client.get("/dashboard/?lang=en").get_data(as_text=True).replace("&#39;", "'")
    assert "Apple's WWDR certificate (wwdr.pem) expired on " in page
    (certs / "pass.pem").write_bytes(b"garbage")
    page = client.get("/dashboard/?lang=uk").get_data(as_text=True)
    assert ("Сертифікат карток (pass.pem) або його ключ не завантажується: картки не можна ні "
            "підписувати, ні оновлювати, доки їх не замінять.") in page


def test_certs_dev_still_writes_a_chain_good_for_years(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    assert write_development_chain(certs)
    config = Config(database_url="sqlite://", base_url="https://cards.example.test",
                    secret_key="s" * 32, certs_dir=certs, instance_dir=tmp_path)
    assert all(one.ready and not one.needs_attention for one in certificate_health(config))
