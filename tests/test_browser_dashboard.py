"""The dashboard in headless Chromium, on a phone and a desktop: logging in and out, a
wrong password, a cashier and an analyst kept to what their roles allow, axe-core on the
login and staff pages, and screenshots in three languages under ``artifacts/dashboard/``
for reviewers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import ACCEPT as ACCEPT
from tests.browser_helpers import (
    CHROMIUM,
    ROOT,
    Live,
    axe_violations,
    live_app,
    page_of,
    shot,
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


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            for role in ("manager", "cashier", "analyst"):
                session.add(Staff(merchant_id=owner.merchant_id, role=role, name=role.title(),
                                  email=f"{role}@zerno.example",
                                  password_hash=hash_password(PASSWORD)))
            session.commit()
        yield served


def log_in(page: Any, live: Live, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{live.origin}/dashboard/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")


def test_an_owner_logs_in_sees_a_wrong_password_refused_and_logs_out(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live, OWNER, "not my password")
    alert = page.locator("p.problem[role=alert]")
    alert.wait_for()
    assert alert.inner_text() == "This email and password do not match an account."
    assert page.input_value("#email") == OWNER
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.locator("h1", has_text="Programs").wait_for()
    assert page.url == f"{live.origin}/dashboard/"
    assert page.locator("main h2").first.inner_text() == "Зерно Club"
    page.click("header form.logout button")
    page.locator("h1", has_text="Log in to your dashboard").wait_for()
    page.goto(f"{live.origin}/dashboard/staff")
    page.locator("h1", has_text="Log in to your dashboard").wait_for()  # signed out


def test_a_cashier_sees_no_staff_or_keys_and_is_refused_them(browser: Any, live: Live) -> None:
    page = page_of(browser, phone=True)
    log_in(page, live, "cashier@zerno.example")
    page.locator("h1", has_text="Programs").wait_for()
    sections = page.locator("nav.sections a").all_inner_texts()
    assert sections == ["Programs", "Cashier", "Password"]
    for path in ("/dashboard/staff", "/dashboard/keys", "/dashboard/activity"):
        response = page.goto(f"{live.origin}{path}")
        assert response.status == 403, path
        assert "Your role does not allow this." in page.locator("main").inner_text()
    shot(page, "cashier-refused-phone-en", SHOTS)


def test_an_analyst_cannot_change_anything(browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live, "analyst@zerno.example")
    page.locator("h1", has_text="Programs").wait_for()
    # The only forms on the page are the analyst's own session's (the log out button).
    assert page.locator("main form").count() == 0
    for path in ("/dashboard/staff", "/dashboard/keys"):
        assert page.goto(f"{live.origin}{path}").status == 403, path
    # A forged form is refused the same way (the page's own token, sent by the browser).
    page.goto(f"{live.origin}/dashboard/")
    token = page.locator("header form.logout input[name=csrf]").input_value()
    answer = page.request.post(f"{live.origin}/dashboard/keys", form={
        "csrf": token, "name": "mine", "role": "owner", "location": "0"})
    assert answer.status == 403


def test_the_login_and_staff_pages_have_no_serious_accessibility_violations(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    page.goto(f"{live.origin}/dashboard/login")
    assert axe_violations(page) == []
    log_in(page, live, OWNER)
    page.locator("h1", has_text="Programs").wait_for()
    page.goto(f"{live.origin}/dashboard/staff")
    assert axe_violations(page) == []
    page.goto(f"{live.origin}/dashboard/keys")
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_pages_in_each_language_on_a_phone_and_a_desktop(
        browser: Any, live: Live, lang: str) -> None:
    headings = {"en": "Staff", "ru": "Сотрудники", "uk": "Співробітники"}
    for phone in (True, False):
        page = page_of(browser, lang=lang, phone=phone)
        size = "phone" if phone else "desktop"
        page.goto(f"{live.origin}/dashboard/login")
        assert page.locator("html").get_attribute("lang") == lang
        shot(page, f"login-{size}-{lang}", SHOTS)
        log_in(page, live, OWNER)
        page.locator("nav.sections").wait_for()
        shot(page, f"home-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/staff")
        assert page.locator("main h1").inner_text() == headings[lang]
        shot(page, f"staff-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/keys")
        shot(page, f"keys-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/activity")
        shot(page, f"activity-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/password")
        shot(page, f"password-{size}-{lang}", SHOTS)
        if phone:  # wider than the screen is a defect on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
