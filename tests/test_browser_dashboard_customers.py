"""The customer pages in headless Chromium, on a phone and a desktop: finding a customer by
a fragment of the name and by a phone and opening the card, correcting its balance and
seeing the history's new row, blocking and unblocking it, importing a small CSV with one
bad row (the preview says the problem, the import takes the rest), a manager limited to a
location, axe-core on each page, and screenshots in three languages under
``artifacts/dashboard/customers/`` for reviewers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cards.models import Card, Customer
from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.merchants.models import Location, Program, Staff, StaffLocation
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "customers"
OWNER = "o@zerno.example"
PODIL_MANAGER = "podil@zerno.example"
CSV = ("name;phone;email;old card number;balance\n"
       "Тарас Шевченко;;taras@example.com;0042-7781;300\n"
       "Іван;;not-an-email;;\n"
       "Леся Українка;;lesia@example.com;;20\n")


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    """The owner, an analyst, a manager limited to Podil; Олена Коваль joined at Podil,
    Petro Bondar and Марія Коваленко at no location."""
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            program = session.get(Program, served.program["id"])
            assert program is not None
            podil = Location(merchant_id=owner.merchant_id, program_id=program.id,
                             name="Поділ")
            session.add(podil)
            session.flush()
            session.add(Staff(merchant_id=owner.merchant_id, role="analyst", name="Analyst",
                              email="analyst@zerno.example",
                              password_hash=hash_password(PASSWORD)))
            manager = Staff(merchant_id=owner.merchant_id, role="manager", name="Podil",
                            email=PODIL_MANAGER, password_hash=hash_password(PASSWORD))
            session.add(manager)
            session.flush()
            session.add(StaffLocation(staff_id=manager.id, location_id=podil.id))
            session.commit()
            for name, phone, location_id in (
                    ("Petro Bondar", "+380501112233", None),
                    ("Марія Коваленко", "+380931234500", None),
                    ("Олена Коваль", "+380671234567", podil.id)):
                enroll(session, program=program, location_id=location_id,
                       data=EnrolmentInput(name=name, phone=phone,
                                           email=f"{phone[-4:]}@example.com"))
        yield served


def log_in(page: Any, live: Live, email: str = OWNER) -> None:
    page.goto(f"{live.origin}/dashboard/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.locator("nav.sections").wait_for()


def search(page: Any, typed: str) -> None:
    page.fill("#q", typed)
    page.click("form.search button")
    page.locator("h2#found").wait_for()
    # The answer's page holds the query as its field's value (the page before did not).
    page.wait_for_function(
        "(typed) => document.querySelector('#q').getAttribute('value') === typed", arg=typed)


def found_names(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("ul.customers .who strong").all_inner_texts()]


def open_olena(page: Any, live: Live) -> None:
    page.goto(f"{live.origin}/dashboard/customers")
    search(page, "олена")
    page.click("text=Олена Коваль")
    page.locator("h1", has_text="Олена Коваль").wait_for()


def test_a_name_fragment_and_a_phone_find_the_customer_whose_card_opens(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live)
    page.click("nav.sections >> text=Customers")
    page.locator("h1", has_text="Customers").wait_for()
    assert found_names(page) == ["Олена Коваль", "Марія Коваленко", "Petro Bondar"]
    search(page, "ковал")
    page.wait_for_function("document.querySelectorAll('ul.customers li').length === 2")
    assert found_names(page) == ["Олена Коваль", "Марія Коваленко"]
    search(page, "067 123 45 67")
    page.wait_for_function("document.querySelectorAll('ul.customers li').length === 1")
    assert found_names(page) == ["Олена Коваль"]
    page.click("text=Олена Коваль")
    page.locator("h1", has_text="Олена Коваль").wait_for()
    assert "50 points" in page.locator("dd.balance").inner_text()  # the welcome points
    assert "Welcome points" in page.locator("table.ledger").inner_text()
    assert axe_violations(page) == []


def test_a_balance_is_corrected_after_confirming_and_the_history_shows_it(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live)
    open_olena(page, live)
    page.fill("#points", "150")
    page.fill("#reason", "Чек загубився")
    page.click("text=Correct…")
    page.locator("#confirm-title", has_text="Add 150 points to this card?").wait_for()
    assert "50 points" in page.locator("dd.balance").inner_text()  # not yet
    assert axe_violations(page) == []
    page.click("text=Yes, correct the balance")
    page.locator("p.notice", has_text="The balance is corrected").wait_for()
    assert page.locator("dd.balance").inner_text() == "200 points"
    newest = page.locator("table.ledger tbody tr").first.inner_text()
    assert "Correction" in newest and "+150" in newest and "Чек загубився" in newest


def test_a_card_is_blocked_and_unblocked_each_after_confirming(
        browser: Any, live: Live) -> None:
    page = page_of(browser, phone=True)
    log_in(page, live)
    open_olena(page, live)
    page.click("text=Block…")
    page.locator("#confirm-title", has_text="Block this card?").wait_for()
    page.click("text=Yes, block it")
    page.locator("p.notice", has_text="The card is blocked").wait_for()
    assert page.locator("dd.status-blocked").inner_text() == "Blocked"
    shot(page, "card-blocked-phone-en", SHOTS)
    page.click("text=Unblock…")
    page.click("text=Yes, unblock it")
    page.locator("p.notice", has_text="The card works again.").wait_for()
    assert page.locator("dd.status-active").inner_text() == "Active"


def test_a_csv_with_one_bad_row_is_previewed_and_the_rest_imported(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live)
    page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/import")
    page.set_input_files("#file", files=[{"name": "customers.csv", "mimeType": "text/csv",
                                          "buffer": CSV.encode()}])
    page.click("text=Check the file")
    page.locator("#preview-title").wait_for()
    problems = page.locator("table.problems tbody tr").all_inner_texts()
    assert len(problems) == 1
    assert "3" in problems[0] and "This is not an email address." in problems[0]
    assert axe_violations(page) == []
    shot(page, "import-preview-desktop-en", SHOTS)
    page.check("#skip_invalid")
    page.click("text=Import 2 customers")
    page.locator("h2", has_text="Imported").wait_for()
    assert "2 new customers" in page.locator("main").inner_text()
    page.goto(f"{live.origin}/dashboard/customers")
    search(page, "0042 7781")  # the old card number finds its card
    page.wait_for_function("document.querySelectorAll('ul.customers li').length === 1")
    assert found_names(page) == ["Тарас Шевченко"]


def test_a_manager_limited_to_a_location_finds_and_opens_its_cards_only(
        browser: Any, live: Live) -> None:
    page = page_of(browser)
    log_in(page, live, PODIL_MANAGER)
    page.goto(f"{live.origin}/dashboard/customers")
    page.locator("h2#found").wait_for()
    assert found_names(page) == ["Олена Коваль"]
    search(page, "petro")
    assert found_names(page) == []
    # Another location's card by its address: refused.
    page.goto(f"{live.origin}/dashboard/customers")
    with live.app.extensions["loyalpass"].sessions() as session:
        petro = session.scalar(select(Card.id).join(Customer, Customer.id == Card.customer_id)
                               .where(Customer.name == "Petro Bondar"))
    assert page.goto(f"{live.origin}/dashboard/cards/{petro}").status == 403
    open_olena(page, live)
    assert page.locator("text=Correct…").count() == 1  # its own card it may correct


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_customer_pages_in_each_language_on_a_phone_and_a_desktop(
        browser: Any, live: Live, lang: str) -> None:
    headings = {"en": "Customers", "ru": "Клиенты", "uk": "Клієнти"}
    for phone in (True, False):
        page = page_of(browser, lang=lang, phone=phone)
        size = "phone" if phone else "desktop"
        log_in(page, live)
        page.goto(f"{live.origin}/dashboard/customers")
        assert page.locator("main h1").inner_text().startswith(headings[lang])
        shot(page, f"customers-{size}-{lang}", SHOTS)
        open_olena(page, live)
        shot(page, f"card-{size}-{lang}", SHOTS)
        page.fill("#points", "-20")
        page.fill("#reason", "Помилка касира")
        page.click("form[action$='/adjust'] button")
        page.locator("#confirm-title").wait_for()
        shot(page, f"card-confirm-{size}-{lang}", SHOTS)
        page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/import")
        page.set_input_files("#file", files=[{"name": "customers.csv",
                                              "mimeType": "text/csv",
                                              "buffer": CSV.encode()}])
        page.click("form[enctype] button")
        page.locator("#preview-title").wait_for()
        shot(page, f"import-preview-{size}-{lang}", SHOTS)
        if phone:  # wider than the screen is a defect on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        page.context.close()
