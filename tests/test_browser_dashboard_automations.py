"""The automatic offers page in headless Chromium: an owner finds it from the offers
page, switches the birthday rule on with its texts in the program's languages, saves,
and sees it saved; a rule switched on without a title is marked. axe-core finds nothing
serious; screenshots (desktop and phone, Ukrainian and English) go to
``artifacts/dashboard/automations/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.automations.models import AutomationRule
from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import ROOT, Live, axe_violations, live_app
from tests.dashboard_helpers import PASSWORD
from tests.test_browser_dashboard import CHROMIUM, OWNER, log_in, page_of
from tests.test_browser_dashboard import browser as browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "automations"


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
        yield served


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_owner_switches_the_birthday_rule_on_from_the_offers_page(
        browser: Any, live: Live) -> None:
    page = page_of(browser, lang="uk")
    log_in(page, live, OWNER)
    page.wait_for_url(f"{live.origin}/dashboard/")
    page.goto(f"{live.origin}/dashboard/offers")
    page.click("text=Автоматичні пропозиції")
    page.locator("h1", has_text="Автоматичні пропозиції").wait_for()
    assert axe_violations(page) == []
    locales = live.program["locales"]
    page.check("#birthday-enabled")
    page.click("section[aria-labelledby=rule-birthday] summary")  # the texts unfold
    page.fill(f"#birthday-title-{locales[0]}", "З днем народження!")
    page.fill(f"#birthday-body-{locales[0]}", "Кава в подарунок цього тижня")
    page.select_option("#birthday-when", "week")
    page.fill("#birthday-holdout_percent", "10")
    page.check("#welcome-enabled")  # no title: refused, and marked

    page.click("#save-automations")
    page.locator("p.problem[role=alert]").wait_for()
    assert page.locator("#welcome-title-" + locales[0] + "-error").count() == 1
    _shot(page, "refused-desktop-uk")
    page.uncheck("#welcome-enabled")
    page.click("#save-automations")

    page.locator("p.notice[role=status]").wait_for()
    assert page.input_value(f"#birthday-title-{locales[0]}") == "З днем народження!"
    assert page.is_checked("#birthday-enabled") and not page.is_checked("#welcome-enabled")
    _shot(page, "saved-desktop-uk")
    with live.app.extensions["loyalpass"].sessions() as session:
        rule = session.scalars(select(AutomationRule)).one()
        assert (rule.kind, rule.enabled, rule.holdout_percent) == ("birthday", True, 10)


def test_the_page_reads_well_on_a_phone(browser: Any, live: Live) -> None:
    for lang in ("en", "uk"):
        page = page_of(browser, lang=lang, phone=True)
        log_in(page, live, OWNER)
        page.wait_for_url(f"{live.origin}/dashboard/")
        page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/automations")
        page.locator("#weekly_cap").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"]  # nothing wider than the phone
        _shot(page, f"page-phone-{lang}")
