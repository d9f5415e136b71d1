"""Logos are decoded in full when uploaded: an image whose header and checksums are right
but whose pixels are not, one too large or a decompression bomb is 422 and changes nothing.
A logo that cannot be drawn anyway (stored before this check) never stops passes from
being served: they fall back to the default artwork, and the failure is logged. On SQLite
and PostgreSQL."""

from __future__ import annotations

import io
import logging
import struct
import zipfile
import zlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.merchants.models import Program
from tests.conftest import BASE_URL, Api
from tests.hostile import World, assert_problem, build_world, snapshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk with a correct CRC, whatever its data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _rows(width: int, height: int) -> bytes:
    return b"".join(b"\x00" + b"\xc0\x40\x20" * width for _ in range(height))


def good_png(side: int = 64) -> bytes:
    return _png(side, side, zlib.compress(_rows(side, side)))


def _picture(mode: str, color: Any, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (64, 64), color).save(buffer, format=fmt)
    return buffer.getvalue()


BROKEN_LOGOS = {
    # Right header and CRCs, the compressed stream cut in the middle: verify() passes it.
    "truncated IDAT": _png(64, 64, zlib.compress(_rows(64, 64))[:40]),
    "IDAT not zlib": _png(64, 64, b"\x78\x9c" + b"\xff" * 200),
    "file cut short": good_png()[:-40],
    "huge dimensions": _png(100_000, 100_000, zlib.compress(b"\x00" * 1000)),
    "bomb within 4096 a side": _png(4096, 4096, zlib.compress(b"\x00" * 2_000_000)[:2000]),
    "too wide": _png(5000, 20, zlib.compress(_rows(5000, 20))),
    "too small": _png(8, 8, zlib.compress(_rows(8, 8))),
    "fully transparent": _picture("RGBA", (0, 0, 0, 0), "PNG"),
    "a GIF": _picture("RGB", (200, 10, 10), "GIF"),
    "not an image": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "empty": b"",
}


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _upload(api: Api, world: World, image: bytes) -> Any:
    return api.put(world.path("/api/v1/programs/{program}/logo"), image, "image/png")


def test_a_good_logo_is_stored_and_drawn_on_the_pass(
        api: Api, client: FlaskClient, world: World) -> None:
    response = _upload(api, world, good_png())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["has_logo"] is True
    package = client.get(world.card["apple_pass_url"].removeprefix(BASE_URL))
    assert package.status_code == 200
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.read("logo.png").startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("image", BROKEN_LOGOS.values(), ids=BROKEN_LOGOS.keys())
def test_a_logo_that_cannot_be_decoded_in_full_is_422_and_changes_nothing(
        api: Api, world: World, session: Session, image: bytes) -> None:
    before = snapshot(session)
    problem = assert_problem(_upload(api, world, image), 422, "invalid")
    assert problem["errors"][0]["field"] == "(body)"
    assert snapshot(session) == before


@pytest.fixture
def broken_logo(world: World, session: Session) -> bytes:
    """A logo that passes a header check but not drawing, written as an older version of
    the service would have stored it."""
    image = BROKEN_LOGOS["IDAT not zlib"]
    session.execute(update(Program).where(Program.id == world.program["id"])
                    .values(logo=image, logo_content_type="image/png",
                            design_version=Program.design_version + 1))
    session.commit()
    return image


def _pass_token(session: Session, world: World) -> str:
    from app.cards.models import Card

    session.rollback()
    card = session.get(Card, world.card["id"])
    assert card is not None
    token = card.authentication_token
    session.rollback()
    return token


def test_passes_are_still_served_with_the_default_artwork_when_a_stored_logo_is_broken(
        app: Flask, client: FlaskClient, world: World, session: Session,
        broken_logo: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="loyalpass.wallet")
    customer = client.get(world.card["apple_pass_url"].removeprefix(BASE_URL))
    assert customer.status_code == 200
    assert customer.mimetype == "application/vnd.apple.pkpass"
    pass_type = app.extensions["loyalpass"].wallet.pass_type_identifier
    device = client.get(f"/passkit/v1/passes/{pass_type}/{world.card['serial_number']}",
                        headers={"Authorization": f"ApplePass {_pass_token(session, world)}"})
    assert device.status_code == 200
    for package in (customer.data, device.data):
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            for name in ("icon.png", "logo.png", "logo@2x.png"):
                assert archive.read(name).startswith(PNG_SIGNATURE)
    assert any("logo cannot be drawn" in record.getMessage() for record in caplog.records)


def test_the_program_mark_google_fetches_falls_back_to_the_monogram(
        client: FlaskClient, world: World, broken_logo: bytes,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="loyalpass.wallet")
    response = client.get(world.path("/p/{slug}/logo.png"))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    with Image.open(io.BytesIO(response.data)) as mark:
        assert mark.size == (660, 660)
    assert any("logo cannot be drawn" in record.getMessage() for record in caplog.records)


def test_a_new_good_logo_replaces_a_broken_one(
        api: Api, client: FlaskClient, world: World, broken_logo: bytes) -> None:
    assert _upload(api, world, good_png()).status_code == 200
    assert client.get(world.card["apple_pass_url"].removeprefix(BASE_URL)).status_code == 200
