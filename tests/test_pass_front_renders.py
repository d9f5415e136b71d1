"""Pictures of real passes' fronts (and backs), for a reviewer without an iPhone.

Each case makes a program and a card through the API, buys through the POS API,
downloads the pass as a phone does and draws its front from pass.json and the package's
images with ``passes.apple.preview`` (an approximation of Wallet's store-card layout),
in the language of the phone it stands for. The pictures are kept under
``artifacts/pass-front/`` (not in git). Each front must show its balance or stamps, its
reward or next step, and cut nothing short: not the long Cyrillic names, not a value.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from passes.apple.preview import render_back, render_front
from tests.conftest import Api

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "pass-front"
REFERENCE = (Path(__file__).resolve().parents[2] / "shared/reference"
             / "apple-signed-storecard.pkpass")
LONG_UK = "Кавʼярня «Зерно на Подолі»"
LONG_RU = "Кофейня «Зерно на Подоле»"
COFFEE = {"background": "#3B2416", "foreground": "#FFF8EE", "label": "#E8C9A0"}
GREEN = {"background": "#1F4D3A", "foreground": "#FFFFFF", "label": "#BFE3CF"}
TIERS = [{"name": "Bronze", "min_spend": 0, "earn_percent": 3},
         {"name": "Silver", "min_spend": 300000, "earn_percent": 5},
         {"name": "Gold", "min_spend": 1000000, "earn_percent": 7}]



@dataclass
class Case:
    """A program, one customer of it, what they bought, and what the front must say."""

    name: str
    program: dict[str, Any]
    customer: str
    locale: str
    purchases: list[int]
    primary: str
    row: dict[str, str] = field(default_factory=dict)
    logo: bytes | None = None
    strip: bytes | None = None
    phone: str | None = None  # the phone's language, when not the holder's


def wordmark() -> bytes:
    """A merchant's logo as they often come: a mark and a word on a wide transparent canvas."""
    image = Image.new("RGBA", (900, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((120, 110, 300, 290), fill=(255, 248, 238, 255))
    draw.line((150, 260, 270, 140), fill=(31, 77, 58, 255), width=18)
    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 120)
    draw.text((330, 130), "BEAN", font=face, fill=(255, 248, 238, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def cafe_photo() -> bytes:
    """A stand-in photo: warm light and blurred round shapes, as a café's strip would be."""
    image = Image.new("RGB", (1125, 369), (92, 58, 36))
    draw = ImageDraw.Draw(image)
    for index in range(14):
        x, y = (index * 173) % 1125, (index * 97) % 369
        radius = 40 + (index * 37) % 90
        tone = (210 + index * 3 % 40, 150 + index * 7 % 60, 80 + index * 5 % 40)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tone)
    image = image.filter(ImageFilter.GaussianBlur(28))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


CASES = [
    Case("points-en", {"name": "Kava Bar", "currency": "UAH", "earn_percent": 5,
                       "welcome_points": 50, "locales": ["en", "uk"], "colors": COFFEE},
         "Sam Taylor", "en", [84_000], "92", {"member": "Sam Taylor"}),
    Case("points-ru", {"name": LONG_RU, "currency": "UAH", "earn_percent": 5,
                       "welcome_points": 100, "locales": ["ru", "uk", "en"], "colors": GREEN},
         "Иван Петров", "ru", [2_000_000, 84_000], "1\u00a0142", {"member": "Иван Петров"}),
    Case("tiered-uk", {"name": LONG_UK, "currency": "UAH", "earn_percent": 3,
                       "tiers": TIERS, "locales": ["uk", "ru", "en"], "colors": COFFEE},
         "Олена Коваленко", "uk", [120_000], "36",
         {"next": "Ще 1\u00a0800 UAH до рівня Silver"}),
    Case("tiered-en", {"name": LONG_UK, "currency": "UAH", "earn_percent": 3,
                       "tiers": TIERS, "locales": ["uk", "ru", "en"], "colors": COFFEE},
         "Sam Taylor", "en", [350_000], "105",
         {"next": "Spend 6,500 UAH more for Gold"}),
    Case("stamps-midway-ru", {"name": LONG_RU, "kind": "stamps", "stamps_required": 8,
                              "reward_text": "Бесплатный кофе", "currency": "UAH",
                              "locales": ["ru", "uk", "en"], "colors": GREEN},
         "Иван Петров", "ru", [5_000] * 3, "3/8",
         {"reward": "Ещё 5 штампов до подарка", "reward.label": "БЕСПЛАТНЫЙ КОФЕ"}),
    Case("stamps-midway-en", {"name": "Bean There", "kind": "stamps", "stamps_required": 10,
                              "reward_text": "Free coffee", "currency": "UAH",
                              "locales": ["en"], "colors": GREEN},
         "Sam Taylor", "en", [5_000] * 6, "6/10",
         {"reward": "4 more stamps to your reward", "reward.label": "FREE COFFEE"}),
    # One pass file for every phone: a Russian holder's pass on a Ukrainian phone.
    Case("stamps-midway-ru-on-a-uk-phone",
         {"name": {"ru": LONG_RU, "uk": LONG_UK}, "kind": "stamps", "stamps_required": 8,
          "reward_text": {"ru": "Бесплатный кофе", "uk": "Безкоштовна кава"},
          "currency": "UAH", "locales": ["ru", "uk"], "colors": GREEN},
         "Иван Петров", "ru", [5_000] * 6, "6/8",
         {"reward": "Ще 2 штампи до подарунка", "reward.label": "БЕЗКОШТОВНА КАВА"},
         phone="uk"),
    Case("stamps-reward-uk", {"name": LONG_UK, "kind": "stamps", "stamps_required": 8,
                              "reward_text": "Безкоштовна кава", "currency": "UAH",
                              "locales": ["uk", "ru", "en"], "colors": COFFEE},
         "Олена Коваленко", "uk", [5_000] * 9, "1/8", {"reward": "Безкоштовна кава"}),
    Case("stamps-reward-en", {"name": "Bean There", "kind": "stamps", "stamps_required": 8,
                              "reward_text": "Free coffee", "currency": "UAH",
                              "locales": ["en"], "colors": GREEN},
         "Sam Taylor", "en", [5_000] * 16, "0/8", {"reward": "Free coffee × 2"}),
    Case("photo-and-logo-en", {"name": "Bean There", "currency": "UAH", "earn_percent": 5,
                               "tiers": TIERS, "locales": ["en"], "colors": GREEN},
         "Sam Taylor", "en", [250_000], "75",
         {"next": "Spend 500 UAH more for Silver"}, logo=wordmark(), strip=cafe_photo()),
]


def package_files(client: FlaskClient, card: dict[str, Any]) -> dict[str, bytes]:
    response = client.get(urlsplit(card["apple_pass_url"]).path)
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_front_shows_the_essentials_and_cuts_nothing_short(
        api: Api, client: FlaskClient, case: Case) -> None:
    program = api.post("/api/v1/programs", case.program).get_json()
    assert "id" in program, program
    for path, image, kind in (("logo", case.logo, "image/png"),
                              ("strip", case.strip, "image/jpeg")):
        if image is not None:
            uploaded = api.put(f"/api/v1/programs/{program['id']}/{path}", image, kind)
            assert uploaded.status_code == 200, uploaded.get_json()
    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": case.customer, "email": f"{uuid.uuid4().hex[:8]}@example.com",
                     "locale": case.locale}).get_json()
    for amount in case.purchases:
        bought = api.post("/api/v1/pos/purchases",
                          {"barcode": card["barcode"]["message"], "amount": amount},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
        assert bought.status_code == 201, bought.get_json()
    files = package_files(client, card)
    document = json.loads(files["pass.json"])
    phone = case.phone or case.locale
    front = render_front(document, files, locale=phone)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{case.name}-front.png").write_bytes(front.png)
    (ARTIFACTS / f"{case.name}-back.png").write_bytes(
        render_back(document, files, locale=phone))
    assert front.truncated() == []
    name = case.program["name"]
    assert front.text("logoText").shown == (name[phone] if isinstance(name, dict) else name)
    primary = next(text for text in front.texts
                   if text.role.startswith("primary.") and not text.role.endswith(".label"))
    assert primary.shown == case.primary
    for key, value in case.row.items():
        assert front.text(f"row.{key}").shown == value
    with Image.open(io.BytesIO(front.png)) as picture:
        assert picture.size[0] == (375 + 32) * 2


def test_apples_reference_store_card_is_drawn_too_for_comparison() -> None:
    """The real Apple-signed card in the workplace's reference folder, drawn by the same
    preview (its white text on a white pass is the card's own)."""
    reference = Path(os.environ.get("LOYALPASS_TEST_REFERENCE_PASS", "")) \
        if os.environ.get("LOYALPASS_TEST_REFERENCE_PASS") else REFERENCE
    if not reference.is_file():
        pytest.skip("no Apple-signed reference pass beside the checkout")
    with zipfile.ZipFile(reference) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    document = json.loads(files["pass.json"])
    front = render_front(document, files, locale="fr")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "apple-reference-front.png").write_bytes(front.png)
    assert front.text("header.balance").shown == "0 EUR"
    assert front.text("row.name").shown == "GERMAINE DUPONT"
