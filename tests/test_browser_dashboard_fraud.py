"""The fraud detector's alerts in headless Chromium, on a desktop and a phone: each
pattern said in Ukrainian with its evidence opened, and the program editor's thresholds;
screenshots under ``artifacts/dashboard/`` for reviewers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.clock import utcnow
from app.ledger.fraud_detector import SETTLE, detect_fraud
from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import (
    CHROMIUM,
    ROOT,
    Live,
    live_app,
    page_of,
)
from tests.browser_helpers import browser as browser  # the fixture
from tests.dashboard_helpers import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

SHOTS = ROOT / "artifacts" / "dashboard"
OWNER = "o@zerno.example"


def _post(client: FlaskClient, key: str, path: str, body: dict[str, Any]) -> Any:
    made = client.post(path, json=body, headers={"Authorization": f"Bearer {key}",
                                                 "Idempotency-Key": uuid.uuid4().hex})
    assert made.status_code in (200, 201), made.get_json()
    return made.get_json()


def _history(live: Live) -> None:
    """Purchases and joins that have every pattern, then a round of the detector."""
    client, key, program = live.app.test_client(), live.api_key, live.program
    path = f"/api/v1/programs/{program['id']}"
    client.patch(path, json={"triggers": [{"kind": "min_amount", "amount": 50_000,
                                           "points": 50}]},
                 headers={"Authorization": f"Bearer {key}"})
    podil, obolon = (_post(client, key, f"{path}/locations", {"name": name})["id"]
                     for name in ("Поділ", "Оболонь"))
    card = _post(client, key, f"{path}/cards", {"name": "Олена", "email": "o@example.com"})
    barcode = card["barcode"]["message"]
    for amount in range(50_000, 50_000 + 22 * 90, 90):
        _post(client, key, "/api/v1/pos/purchases",
              {"barcode": barcode, "amount": amount, "location_id": podil})
    _post(client, key, "/api/v1/pos/purchases",
          {"barcode": barcode, "amount": 4_000, "location_id": obolon, "redeem_points": 30})
    for n in range(6):
        page = client.get(f"/join/{program['slug']}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        client.post(f"/join/{program['slug']}", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                    data={"csrf": csrf.group(1), "name": f"Гість {n}",
                          "email": f"guest{n}@example.com"})
    with live.app.extensions["loyalpass"].sessions() as session:
        assert detect_fraud(session, now=utcnow() + SETTLE + timedelta(minutes=1)).raised == 4


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
        _history(served)
        yield served


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_alerts_say_each_pattern_and_open_their_evidence(
        browser: Any, live: Live, phone: bool) -> None:
    page = page_of(browser, lang="uk", phone=phone)
    page.goto(f"{live.origin}/dashboard/login")
    page.fill("#email", OWNER)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{live.origin}/dashboard/alerts?lang=uk")
    for said in ("Покупок за цією карткою в одного касира за один день: 23.",
                 "Покупки біля порогу бонусу 500 ₴: трохи вище нього 22",
                 "Бали списано протягом 120 хв після нарахування в іншій точці: 30.",
                 "Карток оформлено з одного пристрою чи адреси за 60 хв: 6."):
        assert page.get_by_text(said).count() == 1, said
    for summary in page.locator("details.evidence summary").all():
        summary.click()
    assert page.locator(".evidence-table tbody tr").first.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = "phone" if phone else "desktop"
    page.screenshot(path=str(SHOTS / f"fraud-alerts-{name}.png"), full_page=True)
    page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}?lang=uk")
    section = page.get_by_role("group", name="Тривоги про шахрайство")
    assert section.locator("#f-fraud-same_card_scans_per_day").input_value() == "5"
    section.screenshot(path=str(SHOTS / f"fraud-thresholds-{name}.png"))
