"""An offer's results on its page in headless Chromium: the verdict sentence and the
table of both groups, on a phone and a desktop in English, Russian and Ukrainian
(screenshots under ``artifacts/dashboard/results/``); axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import ROOT, Live, axe_violations, live_app
from tests.conftest import Api
from tests.dashboard_helpers import PASSWORD
from tests.test_browser_dashboard import CHROMIUM, OWNER, log_in, page_of
from tests.test_browser_dashboard import browser as browser
from tests.test_offer_results import EFFECT, generate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "results"
VERDICTS = {"en": "that is significant.", "ru": "это статистически значимо.",
            "uk": "це статистично значуще."}


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
        yield served


def test_the_results_read_plainly_on_a_phone_and_a_desktop_in_each_language(
        browser: Any, live: Live) -> None:
    api = Api(live.app.test_client(), live.api_key)
    with live.app.extensions["loyalpass"].sessions() as session:
        session.expire_on_commit = False
        history = generate(session, api, live.program, seed=14, effect=EFFECT)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for phone in (False, True):
        page = page_of(browser, phone=phone)
        log_in(page, live, OWNER)
        page.locator("main").wait_for()
        page.wait_for_url("**/dashboard/")
        for lang, verdict in VERDICTS.items():
            page.goto(f"{live.origin}/dashboard/offers/{history.offer_id}?lang={lang}")
            shown = page.locator("[data-figure=verdict]").inner_text()
            assert shown.endswith(verdict), shown
            assert page.locator("table.results tbody tr").count() == 4
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], (lang, phone, width)
            page.screenshot(path=str(SHOTS / f"offer-results-{lang}-"
                                     f"{'phone' if phone else 'desktop'}.png"),
                            full_page=True)
            if not phone:
                assert axe_violations(page) == []
        page.context.close()
