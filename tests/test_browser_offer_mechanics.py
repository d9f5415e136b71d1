"""Offers at the till in headless Chromium: the owner composes a coupon offer in the
offer form, and a cashier on a phone picks the card's coupon in the sale form, records
the purchase and sees the coupon's points in it; screenshots on a phone and a desktop
under ``artifacts/dashboard/till/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser_helpers import CHROMIUM, DESKTOP, IPHONE, ROOT, Live, device
from tests.test_browser_dashboard import ACCEPT, OWNER, log_in
from tests.test_browser_dashboard_cashier import (  # noqa: F401  (fixtures)
    CASHIER,
    _card,
    _find,
    _spaced,
    browser,
    live,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "till"


def _page(browser: Any, *, phone: bool) -> Any:  # noqa: F811  (the fixture's name)
    options = device(browser.playwright, IPHONE) if phone else DESKTOP
    context = browser.new_context(locale=ACCEPT["en"], **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _coupon(served: Live) -> dict[str, Any]:
    client, headers = served.app.test_client(), {"Authorization": f"Bearer {served.api_key}"}
    offer = client.post(f"/api/v1/programs/{served.program['id']}/offers", headers=headers,
                        json={"title": "Croissant coupon", "promotional": False,
                              "starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                              "mechanic": {"type": "coupon", "points": 25,
                                           "text": "Free croissant"}})
    assert offer.status_code == 201, offer.get_json()
    body: dict[str, Any] = offer.get_json()
    published = client.post(f"/api/v1/offers/{body['id']}/publish", headers=headers)
    assert published.status_code == 202
    return body


def _balance(served: Live, card: dict[str, Any]) -> int:
    found = served.app.test_client().get(f"/api/v1/cards/{card['id']}",
                                         headers={"Authorization": f"Bearer {served.api_key}"})
    return int(found.get_json()["balance"])


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_the_owner_chooses_what_an_offer_does_at_the_till(
        browser: Any, live: Live, phone: bool) -> None:  # noqa: F811
    page = _page(browser, phone=phone)
    log_in(page, live, OWNER)
    page.locator("nav.sections").wait_for()
    page.goto(f"{live.origin}/dashboard/programs/{live.program['id']}/offers/new")
    page.select_option("select[name=mechanic]", "coupon")
    page.fill("input[name=mechanic_points]", "25")
    page.fill("input[name=mechanic_text]", "Free croissant")
    _shot(page, f"offer-form-{'phone' if phone else 'desktop'}")
    assert page.locator("select[name=mechanic]").input_value() == "coupon"


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_a_cashier_applies_the_cards_coupon_and_sees_its_points(
        browser: Any, live: Live, phone: bool) -> None:  # noqa: F811
    card = _card(live)
    offer = _coupon(live)
    page = _page(browser, phone=phone)
    log_in(page, live, CASHIER)
    _find(page, _spaced(card["number"]))
    page.locator("form[action$='/purchases']").wait_for()
    assert "Free croissant" in page.locator("main").inner_text()
    page.fill("input[name=amount]", "100")
    page.select_option("select[name=coupon]", str(offer["id"]))
    _shot(page, f"cashier-coupon-{'phone' if phone else 'desktop'}")
    page.click("button.record")
    page.locator("section.receipt").wait_for()
    receipt = page.locator("section.receipt").inner_text()
    gained = _balance(live, card) - card["balance"]
    assert gained > 25 and f"+{gained}" in receipt, receipt  # what it earned, and the 25
    assert page.locator("select[name=coupon]").count() == 0  # used: no longer offered
    _shot(page, f"cashier-coupon-used-{'phone' if phone else 'desktop'}")
