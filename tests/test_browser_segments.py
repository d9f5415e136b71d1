"""The customer segments in headless Chromium: an owner computes them with the page's
button and sees each segment's count, the card page shows a customer's segment and
scores, and the offer form offers the segments with their counts. Screenshots on a phone
and a desktop in English and Ukrainian under ``artifacts/dashboard/segments/``; axe-core
finds nothing serious; no page is wider than the screen."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import Purchase
from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from app.points.postings import program_rules, refresh_figures, spend_figures
from tests.browser_helpers import ROOT, Live, axe_violations, live_app
from tests.dashboard_helpers import PASSWORD
from tests.test_browser_dashboard import CHROMIUM, OWNER, log_in, page_of
from tests.test_browser_dashboard import browser as browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "segments"
NAMES = {"en": "Champions", "uk": "Чемпіони"}


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
        yield served


def _customers(live: Live) -> list[int]:
    """Twelve customers: the first bought often, lately and much; the others less, longer
    ago; the caches derived from the moved purchases."""
    client = live.app.test_client()
    headers = {"Authorization": f"Bearer {live.api_key}"}
    cards, moved = [], {}
    for index in range(12):
        card = client.post(f"/api/v1/programs/{live.program['id']}/cards", headers=headers,
                           json={"name": f"Guest {index}", "email": f"g{index}@example.com"}
                           ).get_json()
        cards.append(card["id"])
        for visit in range(max(1, 6 - index // 2)):
            bought = client.post("/api/v1/pos/purchases", json={
                "barcode": card["number"], "amount": 20_000 - index * 1_000},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex}).get_json()
            moved[bought["id"]] = utcnow() - timedelta(days=index * 20 + visit)
    with live.app.extensions["loyalpass"].sessions() as session:
        for purchase_id, moment in moved.items():
            session.execute(update(Purchase).where(Purchase.id == purchase_id)
                            .values(created_at=moment))
        for card_row in session.scalars(select(Card)):
            refresh_figures(card_row, program_rules(card_row.program),
                            spend_figures(session, card_row.id, utcnow()))
        session.commit()
    return cards


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "uk"])
def test_an_owner_computes_the_segments_and_sees_them_on_the_pages(
        browser: Any, live: Live, lang: str) -> None:
    cards = _customers(live)
    program_id = live.program["id"]
    for phone in (False, True):
        form = "phone" if phone else "desktop"
        page = page_of(browser, lang=lang, phone=phone)
        log_in(page, live, OWNER)
        page.locator("nav.sections").wait_for()
        assert page.goto(f"{live.origin}/dashboard/programs/{program_id}/segments"
                         f"?lang={lang}").status == 200
        if not phone:
            assert page.locator("[data-figure=champions]").inner_text() == "0"
            page.click("main form button[type=submit]")
            page.locator("p.notice[role=status]").wait_for()
        total = sum(int(cell.inner_text())
                    for cell in page.locator("td[data-figure]").all())
        assert total == len(cards)
        assert int(page.locator("[data-figure=champions]").inner_text()) > 0
        for path, name in ((f"/dashboard/programs/{program_id}/segments", "segments"),
                           (f"/dashboard/cards/{cards[0]}", "card"),
                           (f"/dashboard/programs/{program_id}/offers/new", "compose")):
            assert page.goto(f"{live.origin}{path}?lang={lang}").status == 200
            if name == "card":
                assert NAMES[lang] in page.locator("dd.segment").inner_text()
            if name == "compose":
                assert page.locator("#segments input[type=checkbox]").count() == 8
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], (name, form, width)
            shot(page, f"{name}-{form}-{lang}")
            assert axe_violations(page) == [], (name, form)
        page.context.close()
