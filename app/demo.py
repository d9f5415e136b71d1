"""The demo merchant, program, location and cards that ``loyalpass serve`` starts with.

Idempotent: running it again finds what is there. The owner's API key is kept in the
instance folder (development only) so that every start can print it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.files import private_folder, write_private
from app.merchants.models import Program, Staff
from app.merchants.schemas import LocationCreate, ProgramCreate
from app.merchants.service import (
    authenticate_api_key,
    create_api_key,
    create_location,
    create_merchant,
    create_program,
)

DEMO_EMAIL = "owner@demo.loyalpass.dev"
DEMO_SLUG = "demo"

DEMO_PROGRAM = ProgramCreate.model_validate({
    "name": {"en": "Demo Coffee Club", "ru": "Демо-кофейня", "uk": "Демо-кавʼярня"},
    "slug": DEMO_SLUG,
    "currency": "UAH",
    "country": "UA",
    "earn_percent": 2,
    "point_value": 100,
    "welcome_points": 50,
    "tiers": [
        {"key": "Silver", "name": {"en": "Silver", "ru": "Серебро", "uk": "Срібло"},
         "min_spend": 0, "earn_percent": 2},
        {"key": "Gold", "name": {"en": "Gold", "ru": "Золото", "uk": "Золото"},
         "min_spend": 500000, "earn_percent": 3},
        {"key": "Platinum", "name": {"en": "Platinum", "ru": "Платина", "uk": "Платина"},
         "min_spend": 2000000, "earn_percent": 5},
    ],
    "colors": {"background": "#3B2416", "foreground": "#FFF8EE", "label": "#E8C9A0"},
    "locales": ["en", "ru", "uk"],
    "barcode_format": "qr",
    "terms": {"en": "Points have no cash value. 1 point = 1 UAH off your next purchase.",
              "ru": "Баллы не обмениваются на деньги. 1 балл = 1 грн скидки на следующую "
                    "покупку.",
              "uk": "Бали не обмінюються на гроші. 1 бал = 1 грн знижки на наступну "
                    "покупку."},
    "support_email": "hello@demo.loyalpass.dev",
})

DEMO_CUSTOMERS = (
    {"name": "Olena Kovalenko", "email": "olena@example.com", "locale": "uk"},
    {"name": "Ivan Petrov", "phone": "+380501234567", "locale": "ru"},
    {"name": "Sam Taylor", "email": "sam@example.com", "locale": "en"},
)


@dataclass(frozen=True)
class Demo:
    program: Program
    api_key: str
    cards: list[Card]


def seed_demo(session: Session, *, instance_dir: Path) -> Demo:
    key_file = instance_dir / "demo_api_key.json"
    owner = session.scalar(select(Staff).where(Staff.email == DEMO_EMAIL))
    if owner is None:
        created = create_merchant(session, name="Demo Café", email=DEMO_EMAIL)
        merchant_id, api_key = created.merchant.id, created.api_key
        _save_key(key_file, api_key)
    else:
        merchant_id = owner.merchant_id
        api_key = _load_key(key_file) or ""
        known = authenticate_api_key(session, api_key)
        if known is None or known.merchant_id != merchant_id:
            api_key = create_api_key(session, merchant_id=merchant_id, role="owner",
                                     name="demo")
            _save_key(key_file, api_key)
    program = session.scalar(select(Program).where(Program.slug == DEMO_SLUG))
    if program is None:
        program = create_program(session, merchant_id=merchant_id, data=DEMO_PROGRAM)
        create_location(session, program=program, data=LocationCreate(
            name="Demo Café, Khreshchatyk 22", address="Khreshchatyk St, 22, Kyiv",
            latitude=50.4470, longitude=30.5225,
        ))
    cards = [
        enroll(session, program=program, data=EnrolmentInput.model_validate(customer)).card
        for customer in DEMO_CUSTOMERS
    ]
    return Demo(program=program, api_key=api_key, cards=cards)


def _save_key(path: Path, key: str) -> None:
    private_folder(path.parent)
    write_private(path, json.dumps({"api_key": key}).encode())


def _load_key(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text()).get("api_key")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) else None
