"""The analytics page in headless Chromium over a generated history: its charts are drawn
with bars and lines where the figures are, the page fits a phone without sideways
scrolling, and axe-core finds nothing serious. Screenshots on a phone and a desktop in
English, Russian and Ukrainian under ``artifacts/dashboard/analytics/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import ROOT, Live, axe_violations, live_app, page_of, shot
from tests.browser_helpers import browser as browser  # the fixture
from tests.conftest import Api
from tests.dashboard_helpers import PASSWORD
from tests.stats_history import DAYS, FIRST_DAY, generate
from tests.test_browser_dashboard import CHROMIUM, OWNER, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "analytics"
PERIOD = f"from={FIRST_DAY.isoformat()}&to={(FIRST_DAY + timedelta(days=DAYS - 1)).isoformat()}"


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
            generate(session, Api(served.app.test_client(), served.api_key), served.program,
                     seed=5, cards=30, purchases=400)
        yield served


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_analytics_page_draws_its_charts_and_fits_a_phone(
        browser: Any, live: Live, lang: str) -> None:
    for phone in (False, True):
        page = page_of(browser, lang=lang, phone=phone)
        log_in(page, live, OWNER)
        page.locator("nav.sections").wait_for()
        page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/analytics?{PERIOD}")
        page.locator("#chart-visits").wait_for()
        assert page.locator("#chart-turnover rect.bar").count() == DAYS
        assert page.locator("#chart-points path.line").count() == 3
        box = page.locator("#chart-liability svg.plot-area").bounding_box()
        assert box is not None and box["height"] > 150 and box["width"] > 200
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, f"analytics-{lang}-{'phone' if phone else 'desktop'}", SHOTS)
        if not phone:
            assert axe_violations(page) == []
        page.context.close()
