"""The pass Apple's web service sends a device (read in one statement: ``app.devices.
wallet_reads``) is the pass the customer's own page hands out (read through the ORM): the
same pass.json and strings, file for file, with the card's movements, its next tier and
the offers its pass shows, for a points card with tiers and a stamp card without; and a
304 answers from the card's row alone, before the pass changes and not after."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.card_page_helpers import Shop, buy, enroll, open_shop
from tests.push_helpers import install
from tests.wallet_helpers import pass_field, pass_json, pass_strings


def _files(package: bytes) -> dict[str, bytes]:
    """What a device reads of a package, but the signature (which carries its signing
    time)."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "signature"}


def _offer(shop: Shop, program: dict[str, Any], title: Any, *, publish: bool = True,
           ends_in: timedelta = timedelta(days=10)) -> None:
    offer = shop.api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": title, "promotional": False,
        "ends_at": (datetime.now(UTC) + ends_in).isoformat()}).get_json()
    if publish:
        assert shop.api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202


def _both(client: FlaskClient, card: dict[str, Any]) -> tuple[bytes, bytes]:
    """The card page's pass and the web service's, as their clients get them."""
    page = client.get(urlsplit(card["apple_pass_url"]).path)
    device = install(client, card)
    served = client.get(f"/passkit/v1/passes/{device['type']}/{device['serial']}",
                        headers={"Authorization": f"ApplePass {device['token']}"})
    assert page.status_code == served.status_code == 200
    return page.data, served.data


def test_the_web_service_sends_the_pass_the_card_page_gives_with_movements_tier_and_offers(
        app: Flask, client: FlaskClient) -> None:
    shop = open_shop(app)
    card = enroll(shop, shop.points, name="Олена Коваль", email="olena@example.com")
    for amount in (12_000, 34_500, 8_000):
        buy(shop, card, amount)
    buy(shop, card, 5_000, redeem=20)
    _offer(shop, shop.points, {"uk": "Круасан у подарунок", "en": "Free croissant",
                               "ru": "Круассан в подарок"})
    _offer(shop, shop.points, "Double points on Monday")
    _offer(shop, shop.points, "Not published yet", publish=False)

    page, served = _both(client, card)

    assert _files(served) == _files(page)
    document = pass_json(served)
    assert "Gold" in pass_field(document, "next")["value"]
    assert len(pass_field(document, "history")["value"].splitlines()) == 5  # welcome + 4
    offers = pass_strings(served, "uk")[pass_field(document, "offers_now")["value"]]
    assert "Круасан у подарунок" in offers and "Double points on Monday" in offers
    assert "Not published" not in offers


def test_a_stamp_card_without_tiers_is_served_as_its_page_gives_it(
        app: Flask, client: FlaskClient) -> None:
    shop = open_shop(app)
    card = enroll(shop, shop.stamps, name="Ірина Мельник", phone="+380671234567")
    for _ in range(3):
        buy(shop, card, 4_500)

    page, served = _both(client, card)

    assert _files(served) == _files(page)


def test_a_304_holds_until_the_pass_changes_and_then_the_new_pass_is_sent(
        app: Flask, client: FlaskClient) -> None:
    shop = open_shop(app)
    card = enroll(shop, shop.points, name="Petro", email="petro@example.com")
    device = install(client, card)
    path = f"/passkit/v1/passes/{device['type']}/{device['serial']}"
    auth = {"Authorization": f"ApplePass {device['token']}"}
    first = client.get(path, headers=auth)
    unchanged = client.get(path, headers={**auth,
                                          "If-Modified-Since": first.headers["Last-Modified"]})
    assert unchanged.status_code == 304 and unchanged.data == b""

    buy(shop, card, 20_000)
    changed = client.get(path, headers={**auth,
                                        "If-Modified-Since": first.headers["Last-Modified"]})

    assert changed.status_code == 200
    assert changed.headers["Last-Modified"] != first.headers["Last-Modified"]
    assert pass_json(changed.data)["storeCard"] != pass_json(first.data)["storeCard"]
    page = client.get(urlsplit(card["apple_pass_url"]).path)
    assert _files(changed.data) == _files(page.data)
