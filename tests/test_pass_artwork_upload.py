"""The strip photo and the stamp icon a merchant uploads: checked in full like the logo (a
bad one is 422 naming the body, and changes nothing), drawn on every pass of the program,
removable (the passes return to the drawn default), for writers only; a stored one that
cannot be drawn never stops passes from being served. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import logging
import zipfile
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.merchants.models import Program
from app.merchants.service import create_api_key
from tests.conftest import BASE_URL, Api
from tests.hostile import World, assert_problem, build_world, snapshot


def photo(width: int, height: int, fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (width, height), (200, 60, 30))
    ImageDraw.Draw(image).ellipse((width // 3, 0, width, height), fill=(250, 210, 120))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def icon() -> bytes:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(image).polygon([(32, 2), (62, 62), (2, 62)], fill=(0, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def strip_of(client: FlaskClient, card: dict[str, Any]) -> bytes:
    package = client.get(card["apple_pass_url"].removeprefix(BASE_URL))
    assert package.status_code == 200
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return archive.read("strip@2x.png")


def test_a_strip_photo_is_drawn_on_every_pass_and_removing_it_restores_the_default(
        api: Api, client: FlaskClient, world: World) -> None:
    default = strip_of(client, world.card)
    version = world.program["design_version"]
    response = api.put(world.path("/api/v1/programs/{program}/strip"), photo(1125, 369),
                       "image/jpeg")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["has_strip"] is True
    assert response.get_json()["design_version"] == version + 1
    drawn = strip_of(client, world.card)
    with Image.open(io.BytesIO(drawn)) as strip:
        assert strip.size == (750, 246)
        red, green, _ = strip.convert("RGB").getpixel((740, 5))  # type: ignore[misc]
        assert red > 150 and green < 120  # the photo's red, at the right edge
    removed = api.client.delete(world.path("/api/v1/programs/{program}/strip"),
                                headers={"Authorization": f"Bearer {api.key}"})
    assert removed.status_code == 200
    assert removed.get_json()["has_strip"] is False
    assert strip_of(client, world.card) == default


def test_a_stamp_icon_is_drawn_in_the_stamps_of_a_stamp_card(
        api: Api, client: FlaskClient) -> None:
    program = api.post("/api/v1/programs", {"name": "Bean There", "kind": "stamps",
                                            "stamps_required": 6}).get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Sam", "email": "sam@example.com"}).get_json()
    cup = strip_of(client, card)
    response = api.put(f"/api/v1/programs/{program['id']}/stamp-icon", icon(), "image/png")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["has_stamp_icon"] is True
    assert strip_of(client, card) != cup


BAD_STRIPS = {
    "too small": photo(300, 100),
    "too large a side": photo(5000, 200),
    "not an image": b"GIF89a\x01\x00",
    "cut short": photo(1125, 369)[:300],
    "empty": b"",
}


@pytest.mark.parametrize("image", BAD_STRIPS.values(), ids=BAD_STRIPS.keys())
def test_a_strip_that_cannot_be_drawn_is_422_and_changes_nothing(
        api: Api, world: World, session: Session, image: bytes) -> None:
    before = snapshot(session)
    response = api.put(world.path("/api/v1/programs/{program}/strip"), image, "image/jpeg")
    problem = assert_problem(response, 422, "invalid")
    assert problem["errors"][0]["field"] == "(body)"
    assert "strip photo" in problem["detail"]
    assert snapshot(session) == before


def test_a_too_small_strip_says_the_size_it_needs(api: Api, world: World) -> None:
    response = api.put(world.path("/api/v1/programs/{program}/strip"), photo(300, 100),
                       "image/jpeg")
    assert assert_problem(response, 422)["detail"] == (
        "The strip photo must be at least 375×123 pixels, and at most 4096 on each side.")


def test_removing_artwork_that_is_not_there_changes_nothing(
        api: Api, world: World, session: Session) -> None:
    before = snapshot(session)
    for kind in ("strip", "stamp-icon"):
        response = api.client.delete(world.path(f"/api/v1/programs/{{program}}/{kind}"),
                                     headers={"Authorization": f"Bearer {api.key}"})
        assert response.status_code == 200
    assert snapshot(session) == before


def test_only_owners_and_managers_change_the_artwork(
        api: Api, world: World, session: Session) -> None:
    merchant_id = session.get(Program, world.program["id"]).merchant_id  # type: ignore[union-attr]
    cashier = Api(api.client, create_api_key(session, merchant_id=merchant_id, role="cashier"))
    session.commit()
    before = snapshot(session)
    for path in ("/api/v1/programs/{program}/strip", "/api/v1/programs/{program}/stamp-icon"):
        assert cashier.put(world.path(path), icon(), "image/png").status_code == 403
    assert snapshot(session) == before


def test_passes_are_served_with_the_drawn_strip_when_a_stored_photo_is_broken(
        api: Api, client: FlaskClient, world: World, session: Session,
        caplog: pytest.LogCaptureFixture) -> None:
    default = strip_of(client, world.card)
    session.execute(update(Program).where(Program.id == world.program["id"])
                    .values(strip_image=b"\xff\xd8\xff not a jpeg",
                            strip_content_type="image/jpeg",
                            design_version=Program.design_version + 1))
    session.commit()
    caplog.set_level(logging.WARNING, logger="loyalpass.wallet")
    assert strip_of(client, world.card) == default
    assert any("strip photo cannot be drawn" in record.getMessage()
               for record in caplog.records)
