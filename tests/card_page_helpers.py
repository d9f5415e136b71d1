"""What the card page's tests share: a merchant with a points program (tiers, welcome
points) and a stamp program, cards with some history, offers, and Google Wallet on (the
save link is a signed JWT: nothing reaches Google)."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from app.config import Config
from app.merchants.service import create_merchant
from tests.conftest import Api
from tests.google_helpers import make_service_account, write_google_json

GOOGLE_ISSUER = "3388000000012345678"


def with_google(config: Config, tmp_path: Path) -> Config:
    """``config`` with Google Wallet on: a certs folder of its own holding google.json."""
    certs = tmp_path / "certs-google"
    shutil.copytree(config.certs_dir, certs)
    info, _ = make_service_account("https://127.0.0.1:9/token")
    write_google_json(certs, info)
    return config.with_changes(google_issuer_id=GOOGLE_ISSUER, certs_dir=certs)


@dataclass
class Shop:
    api: Api
    points: dict[str, Any]  # the points program, with tiers
    stamps: dict[str, Any]  # the stamp program


def open_shop(app: Flask) -> Shop:
    with app.extensions["loyalpass"].sessions() as session:
        key = create_merchant(session, name="Кавʼярня Зерно",
                              email=f"{uuid.uuid4().hex[:8]}@zerno.example").api_key
    api = Api(app.test_client(), key)
    points = api.post("/api/v1/programs", {
        "name": "Зерно Club", "currency": "UAH", "country": "UA", "earn_percent": 5,
        "locales": ["uk", "ru", "en"], "welcome_points": 50,
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 5},
                  {"name": "Gold", "min_spend": 300000, "earn_percent": 8}],
        "colors": {"background": "#2E4A3F", "foreground": "#FFFFFF", "label": "#CFE3D8"},
    }).get_json()
    stamps = api.post("/api/v1/programs", {
        "name": "Кава-картка", "kind": "stamps", "currency": "UAH", "country": "UA",
        "stamps_required": 8, "reward_text": "free coffee", "locales": ["uk", "ru", "en"],
        "barcode_format": "pdf417",
        "colors": {"background": "#6B3E26", "foreground": "#FFF7EE", "label": "#F1D9C4"},
    }).get_json()
    assert "id" in points and "id" in stamps, (points, stamps)
    return Shop(api=api, points=points, stamps=stamps)


def enroll(shop: Shop, program: dict[str, Any], *, name: str, email: str | None = None,
           phone: str | None = None, consent: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "marketing_consent": consent}
    body.update({"email": email} if email else {})
    body.update({"phone": phone} if phone else {})
    response = shop.api.post(f"/api/v1/programs/{program['id']}/cards", body)
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


def buy(shop: Shop, card: dict[str, Any], amount: int, *, redeem: int = 0) -> dict[str, Any]:
    response = shop.api.post("/api/v1/pos/purchases",
                             {"barcode": card["barcode"]["message"], "amount": amount,
                              "redeem_points": redeem},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.get_json()
    purchase: dict[str, Any] = response.get_json()
    return purchase


def publish_offer(shop: Shop, program: dict[str, Any], title: str, *,
                  promotional: bool = True) -> int:
    """Publish an offer to every card of the program; how many cards it reached."""
    ends = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    offer = shop.api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": title, "body": "With any coffee, this week.", "ends_at": ends,
        "promotional": promotional}).get_json()
    reached: int = shop.api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()["cards"]
    return reached


def token_of(card: dict[str, Any]) -> str:
    token: str = card["card_url"].rsplit("/c/", 1)[1]
    return token
