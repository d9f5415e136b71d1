"""The program editor and the locations pages in headless Chromium: an owner changes a
colour and the name and sees the pass picture change before saving (htmx), and without
JavaScript through the Preview button; a logo is uploaded; a cashier is refused the
settings page; axe-core on each page; screenshots on a phone and a desktop in three
languages under ``artifacts/dashboard/programs/``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from app.merchants.models import Location, Program, Staff
from app.merchants.passwords import hash_password
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
from tests.test_browser_dashboard import OWNER, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "programs"


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.add(Staff(merchant_id=owner.merchant_id, role="cashier", name="Cashier",
                              email="cashier@zerno.example",
                              password_hash=hash_password(PASSWORD)))
            session.add(Location(merchant_id=owner.merchant_id,
                                 program_id=served.program["id"], name="Поділ",
                                 address="вул. Хорива, 1", latitude=50.4656,
                                 longitude=30.5152))
            session.commit()
        yield served


def _editor(page: Any, live: Live) -> None:
    page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}")
    page.locator("#preview-image").wait_for()


def _preview_bytes(page: Any) -> tuple[str, bytes]:
    source = page.locator("#preview-image").get_attribute("src")
    answer = page.request.get(page.url.split("/dashboard")[0] + source)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    return source, answer.body()


def _pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(png)) as picture:
        return picture.convert("RGB").getpixel((x, y))  # type: ignore[no-any-return]


def _saved(live: Live) -> Program:
    with live.app.extensions["loyalpass"].sessions() as session:
        program = session.get(Program, live.program["id"])
        assert program is not None
        session.expunge(program)
        return program


def test_an_owner_changes_a_colour_and_the_name_and_sees_the_pass_change_before_saving(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live, OWNER)
    page.locator("nav.sections").wait_for()
    _editor(page, live)
    first_source, before = _preview_bytes(page)
    assert _pixel(before, 60, 60) == (0x2E, 0x4A, 0x3F)
    page.fill("#f-colors-background", "#8b1e3f")
    page.wait_for_function(
        "(first) => document.querySelector('#preview-image').getAttribute('src') !== first",
        arg=first_source)
    second_source, after = _preview_bytes(page)
    assert after != before and _pixel(after, 60, 60) == (0x8B, 0x1E, 0x3F)
    assert "This change updates no passes." in page.locator("#changes").inner_text()
    page.fill("#f-name-en", "Grain Club")
    page.locator("#f-name-en").dispatch_event("change")
    page.wait_for_function(
        "(second) => document.querySelector('#preview-image').getAttribute('src') !== second",
        arg=second_source)
    _, renamed = _preview_bytes(page)
    assert renamed != after
    assert _saved(live).colors["background"] == "#2E4A3F"  # nothing saved yet
    shot(page, "editor-changed-desktop-en", SHOTS)
    page.click("button[value=save]")
    page.locator("p.notice").wait_for()
    assert _saved(live).colors["background"].upper() == "#8B1E3F"


def test_without_javascript_the_preview_button_draws_the_unsaved_values(
        browser: Any, live: Live) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    log_in(page, live, OWNER)
    page.locator("nav.sections").wait_for()
    _editor(page, live)
    _, before = _preview_bytes(page)
    page.fill("#f-colors-background", "#123456")
    page.click("button[value=preview]")
    page.locator("#changes").wait_for()
    _, after = _preview_bytes(page)
    assert _pixel(after, 60, 60) == (0x12, 0x34, 0x56) and after != before
    assert page.input_value("#f-colors-background") == "#123456"
    assert _saved(live).colors["background"] == "#2E4A3F"


def test_an_owner_uploads_a_logo_and_a_wrong_file_is_refused_beside_its_field(
        browser: Any, live: Live, tmp_path: Path) -> None:
    page = page_of(browser, lang="uk")
    log_in(page, live, OWNER)
    page.locator("nav.sections").wait_for()
    _editor(page, live)
    _, drawn_mark = _preview_bytes(page)
    wrong = tmp_path / "logo.png"
    wrong.write_bytes(b"not a picture at all")
    page.set_input_files("#upload-logo", str(wrong))
    page.click("form.upload:has(#upload-logo) button[value=upload]")
    page.locator("#upload-logo-error").wait_for()
    assert "PNG" in page.locator("#upload-logo-error").inner_text()
    assert _saved(live).logo is None
    logo = tmp_path / "mark.png"
    Image.new("RGBA", (400, 160), (230, 57, 70, 255)).save(logo)
    page.set_input_files("#upload-logo", str(logo))
    page.click("form.upload:has(#upload-logo) button[value=upload]")
    page.locator("p.notice").wait_for()
    assert _saved(live).logo == logo.read_bytes()
    page.wait_for_function("() => document.querySelector('#preview-image').complete")
    _, with_logo = _preview_bytes(page)
    # The logo's red, top left of the pass, where the drawn mark was.
    assert with_logo != drawn_mark and _pixel(with_logo, 70, 60) == (230, 57, 70)
    shot(page, "editor-logo-desktop-uk", SHOTS)


def test_a_cashier_is_refused_the_program_settings(browser: Any, live: Live) -> None:
    page = page_of(browser, phone=True)
    log_in(page, live, "cashier@zerno.example")
    page.locator("nav.sections").wait_for()
    response = page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}")
    assert response.status == 403
    assert "Your role does not allow this." in page.locator("main").inner_text()
    shot(page, "cashier-refused-phone-en", SHOTS)


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_program_pages_in_each_language_on_a_phone_and_a_desktop(
        browser: Any, live: Live, lang: str) -> None:
    for phone in (True, False):
        page = page_of(browser, lang=lang, phone=phone)
        size = "phone" if phone else "desktop"
        log_in(page, live, OWNER)
        page.locator("nav.sections").wait_for()
        _editor(page, live)
        assert page.locator("html").get_attribute("lang") == lang
        assert axe_violations(page) == []
        shot(page, f"editor-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/locations")
        assert axe_violations(page) == []
        shot(page, f"locations-{size}-{lang}", SHOTS)
        poster = page.locator("a[href$='poster-A4-uk.pdf']").get_attribute("href")
        assert page.request.get(live.origin + poster).body().startswith(b"%PDF")
        page.goto(f"{live.origin}/dashboard/programs/new")
        shot(page, f"new-program-{size}-{lang}", SHOTS)
        if phone:  # wider than the screen is a defect on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
