"""Passes signed ahead (``app.devices.signing_ahead``): the worker signs a card's pass as
its push leaves, and the device's download after the push is that pass, its signature
made once by the worker, file for file the pass a download would sign itself. A pass kept
is served only while it is still the pass: not after the card changed, not past the
moment an offer it shows ends or a purchase leaves its tier's year, not when other files
or another key would sign it, and never to a request without the pass's token. Failing
to sign ahead costs the pushes nothing."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.cards.account import delete_data
from app.cards.audit import Who
from app.clock import utcnow
from app.delivery.housekeeping import Housekeeping
from app.delivery.pushes import Worker
from app.devices.models import Registration, SignedPass
from app.devices.signing_ahead import KEPT, sign_ahead
from app.ledger.models import Purchase
from app.points.postings import TIER_WINDOW
from app.runtime import Runtime
from app.wallet.service import Wallet
from passes.apple.signing import split_certificates
from tests.card_page_helpers import Shop, buy, enroll, open_shop, publish_offer
from tests.passes.conftest import openssl_verify
from tests.push_helpers import RecordingSender, install, register
from tests.wallet_helpers import pass_field, pass_json, pass_strings


def _runtime(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["loyalpass"]
    return runtime


def _push(app: Flask, sender: RecordingSender | None = None) -> RecordingSender:
    """One round of the worker as ``loyalpass worker`` runs it: fan-out, sign, push."""
    runtime = _runtime(app)
    sender = sender or RecordingSender()
    Worker(sessions=runtime.sessions, sender=sender, topic=runtime.wallet.pass_type_identifier,
           wallet=runtime.wallet).run_once()
    return sender


def _kept(app: Flask) -> list[SignedPass]:
    with _runtime(app).sessions() as session:
        return list(session.scalars(select(SignedPass)))


def _served_signed_ahead() -> float:
    """How many downloads this process served from a kept pass (the operators' counter;
    a signature alone cannot tell: one made again within the second is the same bytes)."""
    return REGISTRY.get_sample_value("loyalpass_passes_served_signed_ahead_total") or 0.0


def _signed_in_the_request(phone: Phone, since: str | None = None) -> Any:
    """``phone``'s download, which must have signed its pass itself."""
    before = _served_signed_ahead()
    served = phone.download(since=since)
    assert served.status_code == 200
    assert _served_signed_ahead() == before, "served from a kept pass"
    return served


def _signed_ahead(phone: Phone, since: str | None = None) -> Any:
    """``phone``'s download, which must be the pass the worker signed."""
    before = _served_signed_ahead()
    served = phone.download(since=since)
    assert served.status_code == 200
    assert _served_signed_ahead() == before + 1, "not served from a kept pass"
    return served


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _unsigned(package: bytes) -> dict[str, bytes]:
    return {name: data for name, data in _files(package).items() if name != "signature"}


PHONE, TABLET = "aa" * 32, "bb" * 32  # push tokens


class Phone:
    """A device holding a card's pass, registered for its pushes at ``push_token``."""

    def __init__(self, client: FlaskClient, card: dict[str, Any], push_token: str = PHONE
                 ) -> None:
        self.client, self.card = client, card
        self.installed = install(client, card)
        assert register(client, self.installed, f"device-{push_token[:8]}", push_token) == 201
        self.path = f"/passkit/v1/passes/{self.installed['type']}/{self.installed['serial']}"

    def download(self, token: str | None = None, since: str | None = None) -> Any:
        """The pass, as Wallet asks for it: with the Last-Modified of the copy it has
        (``since``), or without one."""
        headers = {"Authorization": f"ApplePass {token or self.installed['token']}"}
        if since is not None:
            headers["If-Modified-Since"] = since
        return self.client.get(self.path, headers=headers)


@pytest.fixture
def shop(app: Flask) -> Shop:
    return open_shop(app)


def test_the_download_after_a_push_is_the_pass_the_worker_signed_and_it_verifies(
        app: Flask, client: FlaskClient, shop: Shop, certs_dir: Path, tmp_path: Path) -> None:
    card = enroll(shop, shop.points, name="Олена Коваль", email="olena@example.com")
    phone = Phone(client, card)
    copy = phone.download().headers["Last-Modified"]  # the pass it has
    buy(shop, card, 24_000)
    publish_offer(shop, shop.points, "Круасан у подарунок")

    _push(app)
    kept, = _kept(app)
    served = _signed_ahead(phone, since=copy)  # as Wallet asks after the push
    assert served.headers["Last-Modified"] != copy
    unchanged = phone.download(since=served.headers["Last-Modified"])
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert _signed_ahead(phone).data == served.data  # asked for without a copy

    signature = _files(served.data)["signature"]
    bare, certificates = split_certificates(signature)
    assert bare in kept.entries  # kept without the certificates, put back when served
    assert certificates not in kept.entries
    # The same files a download signs itself (the kept part set aside, it signs anew).
    with _runtime(app).sessions() as session:
        session.execute(update(SignedPass).values(made_with="another key"))
        session.commit()
    signed_now = _signed_in_the_request(phone, since=copy)
    assert _unsigned(served.data) == _unsigned(signed_now.data)
    assert _unsigned(_signed_in_the_request(phone).data) == _unsigned(served.data)
    assert pass_json(served.data)["storeCard"] == pass_json(signed_now.data)["storeCard"]
    assert "Круасан у подарунок" in pass_strings(served.data, "uk")[
        pass_field(pass_json(served.data), "offers_now")["value"]]
    verified = openssl_verify(tmp_path, signature=signature,
                              content=_files(served.data)["manifest.json"],
                              root_pem=(certs_dir / "root.pem").read_bytes())
    assert verified.returncode == 0, verified.stderr


def test_two_devices_of_one_card_share_one_signature(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.stamps, name="Ірина", phone="+380671234567")
    phone, tablet = Phone(client, card, PHONE), Phone(client, card, TABLET)
    buy(shop, card, 4_500)

    sender = _push(app)

    assert sorted(sender.tokens()) == [PHONE, TABLET]
    assert len(_kept(app)) == 1
    assert _signed_ahead(phone).data == _signed_ahead(tablet).data


def test_a_change_after_signing_is_signed_in_the_download_not_served_stale(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Petro", email="petro@example.com")
    phone = Phone(client, card)
    buy(shop, card, 10_000)
    _push(app)
    before = pass_json(_signed_ahead(phone).data)

    copy = phone.download().headers["Last-Modified"]
    buy(shop, card, 30_000)  # no worker round: the kept pass is of the last version
    after = pass_json(_signed_in_the_request(phone, since=copy).data)
    assert pass_json(_signed_in_the_request(phone).data) == after

    assert pass_field(after, "balance")["value"] > pass_field(before, "balance")["value"]


def test_a_kept_pass_ends_when_an_offer_it_shows_ends(app: Flask, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Oksana", email="oksana@example.com")
    publish_offer(shop, shop.points, "Double points this week")  # ends in 10 days
    runtime = _runtime(app)
    with runtime.sessions() as session:
        now = utcnow() + timedelta(days=10) - timedelta(hours=3)  # three hours before it ends
        assert sign_ahead(session, runtime.wallet, card_ids=[card["id"]], now=now) == 1
        session.commit()
    kept, = _kept(app)

    assert now < kept.good_until < now + timedelta(hours=3)  # its end, not a day on


def test_a_kept_pass_ends_when_a_purchase_leaves_the_tier_year(app: Flask, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Taras", email="taras@example.com")
    buy(shop, card, 50_000)
    runtime = _runtime(app)
    bought = utcnow() - TIER_WINDOW + timedelta(hours=2)  # it counts for two hours more
    with runtime.sessions() as session:
        session.execute(update(Purchase).values(created_at=bought))
        assert sign_ahead(session, runtime.wallet, card_ids=[card["id"]]) == 1
        session.commit()
    kept, = _kept(app)

    assert kept.good_until == bought + TIER_WINDOW


def test_a_pass_is_kept_a_day_at_most_and_housekeeping_deletes_it_after(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.stamps, name="Marta", email="marta@example.com")
    phone = Phone(client, card)
    _push(app)
    kept, = _kept(app)
    assert kept.good_until - kept.signed_at == KEPT
    runtime = _runtime(app)
    with runtime.sessions() as session:
        session.execute(update(SignedPass).values(good_until=utcnow() - timedelta(seconds=1)))
        session.commit()

    _signed_in_the_request(phone)  # past its time
    Housekeeping(runtime.sessions, name="test").run_once()

    assert _kept(app) == []


def test_a_pass_kept_for_other_design_files_is_signed_anew(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Andrii", email="andrii@example.com")
    phone = Phone(client, card)
    _push(app)
    signed_ahead = _signed_ahead(phone)
    with _runtime(app).sessions() as session:  # as if the artwork were drawn otherwise now
        session.execute(update(SignedPass).values(design_digest="0" * 64))
        session.commit()

    served = _signed_in_the_request(phone)
    after_a_push = _signed_in_the_request(phone, since="Mon, 01 Jan 2024 00:00:00 GMT")

    assert _unsigned(served.data) == _unsigned(signed_ahead.data)
    assert _unsigned(after_a_push.data) == _unsigned(signed_ahead.data)


def test_a_kept_pass_is_never_served_without_its_token(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Yurii", email="yurii@example.com")
    phone = Phone(client, card)
    _push(app)
    assert _kept(app)

    wrong = "0" * len(phone.installed["token"])
    for since in (None, "Mon, 01 Jan 2024 00:00:00 GMT"):
        refused = phone.download(token=wrong, since=since)
        assert refused.status_code == 401
        assert b"PK" not in refused.data


def test_another_key_certificate_or_address_signs_its_own_passes(app: Flask) -> None:
    config = _runtime(app).config
    wallet = _runtime(app).wallet
    rotated = config.with_changes(secret_key="another-secret-key-0123456789abcd",
                                  previous_secret_keys=(config.secret_key,))
    moved = config.with_changes(base_url="https://cards.example.org")

    assert Wallet(config, wallet.identity).made_with == wallet.made_with
    assert Wallet(rotated, wallet.identity).made_with != wallet.made_with
    assert Wallet(moved, wallet.identity).made_with != wallet.made_with


def test_pushes_go_when_signing_ahead_fails_and_the_download_signs_its_pass(
        app: Flask, client: FlaskClient, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    card = enroll(shop, shop.points, name="Sofiia", email="sofiia@example.com")
    phone = Phone(client, card)
    buy(shop, card, 7_000)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the signing key is unreadable")

    monkeypatch.setattr(_runtime(app).wallet, "signed_part", broken)
    sender = _push(app)

    assert sender.tokens() == [PHONE]
    assert _kept(app) == []
    _signed_in_the_request(phone)


def test_erasing_the_holders_data_deletes_the_passes_kept_for_their_cards(
        app: Flask, client: FlaskClient, shop: Shop) -> None:
    card = enroll(shop, shop.points, name="Олена Коваль", email="olena@example.com")
    other = enroll(shop, shop.points, name="Ihor", email="ihor@example.com")
    Phone(client, card, PHONE), Phone(client, other, TABLET)
    _push(app)
    assert len(_kept(app)) == 2

    with _runtime(app).sessions() as session:
        delete_data(session, card_id=card["id"], who=Who.customer())

    assert [kept.card_id for kept in _kept(app)] == [other["id"]]  # the name was in it


def test_a_database_lost_while_signing_ahead_leaves_no_lease_behind(
        app: Flask, client: FlaskClient, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    card = enroll(shop, shop.points, name="Roman", email="roman@example.com")
    Phone(client, card)
    buy(shop, card, 7_000)
    runtime = _runtime(app)

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("the connection is lost"))

    # The connection went away after the claim: the signing fails, and so does its rollback.
    monkeypatch.setattr(runtime.wallet, "signed_part", lost)
    monkeypatch.setattr(Session, "rollback", lost)
    sender = RecordingSender()
    Worker(sessions=runtime.sessions, sender=sender, topic=runtime.wallet.pass_type_identifier,
           wallet=runtime.wallet).run_once()
    monkeypatch.undo()

    assert sender.tokens() == [PHONE]  # pushed all the same
    with runtime.sessions() as session:  # and recorded: nothing left leased or pending
        left = session.execute(select(Registration.push_status, Registration.push_leased_until)
                               ).all()
    assert [tuple(row) for row in left] == [("idle", None)]
