"""The customer's own page in headless Chromium, as an iPhone, an Android phone and a
desktop see it: the right wallet button, the desktop's QR code, the details, consent,
export and deletion, and accessibility (axe-core) in three languages.

Screenshots of each step go to ``artifacts/card-page/`` (kept out of git) for a person to
look at.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from werkzeug.serving import make_server

from app import create_app
from app.config import Config
from tests.card_page_helpers import Shop, buy, enroll, open_shop, publish_offer, with_google
from tests.wallet_helpers import pass_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "card-page"
AXE = Path(__file__).with_name("assets") / "axe.min.js"
DEVICES = {"iphone": "iPhone 13", "android": "Pixel 7", "desktop": "Desktop Chrome"}


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[dict[str, Any]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = tmp_path / "db.sqlite3"
    shutil.copy(sqlite_template, database)
    origin = f"http://127.0.0.1:{port}"
    config = with_google(Config(database_url=f"sqlite:///{database}", base_url=origin,
                                secret_key="browser-secret-0123456789", certs_dir=certs_dir,
                                instance_dir=tmp_path / "instance", worker="external"),
                         tmp_path)
    app = create_app(config)
    shop = open_shop(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"origin": origin, "shop": shop, "app": app}
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield playwright, chromium
        chromium.close()


def open_as(browser: Any, device: str, locale: str = "en-US") -> Any:
    """A page in a new context that looks like ``device`` (its User-Agent, viewport,
    touch), with axe-core loaded into every document (an init script is not subject to
    the pages' Content-Security-Policy)."""
    playwright, chromium = browser
    descriptor = dict(playwright.devices[DEVICES[device]])
    descriptor.pop("default_browser_type", None)
    descriptor["device_scale_factor"] = min(descriptor.get("device_scale_factor", 1), 2)
    context = chromium.new_context(**descriptor, locale=locale, accept_downloads=True)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.messages = messages
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def serious_violations(page: Any) -> list[str]:
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def no_policy_violations(page: Any) -> None:
    """Nothing the policy refused, no script error (a page answered 4xx on purpose, as a
    refused form is, only logs its status)."""
    refused = [m for m in page.messages if "Content Security Policy" in m
               or (m.startswith(("error", "pageerror")) and "responded with a status of 4"
                   not in m)]
    assert not refused, page.messages


def a_points_card(shop: Shop, **fields: Any) -> dict[str, Any]:
    card = enroll(shop, shop.points, name=fields.pop("name", "Оксана Шевченко"),
                  email=fields.pop("email", "oksana@example.com"), **fields)
    buy(shop, card, 120000)
    buy(shop, card, 45000, redeem=20)
    return card


def test_an_iphone_gets_the_apple_wallet_badge_and_its_pass(
        browser: Any, live: dict[str, Any]) -> None:
    card = a_points_card(live["shop"])
    page = open_as(browser, "iphone")
    page.goto(card["card_url"] + "?lang=en")
    badge = page.locator("a.badge-apple")
    assert badge.inner_text().split() == ["Add", "to", "Apple", "Wallet"]
    assert page.locator("a.badge-google").count() == 0
    assert page.locator(".other #add-to-google-wallet").get_attribute("href").startswith(
        "https://pay.google.com/gp/v/save/")
    assert page.locator("#page-qr").count() == 0
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
    assert badge.bounding_box()["height"] >= 48
    shot(page, "iphone-en-points")
    with page.expect_download() as download:
        badge.click()
    body = pass_json(Path(download.value.path()).read_bytes())
    assert "voided" not in body
    assert body["barcodes"][0]["message"] == card["barcode"]["message"]
    no_policy_violations(page)


def test_an_android_phone_gets_the_google_wallet_badge_and_a_link_to_apple(
        browser: Any, live: dict[str, Any]) -> None:
    card = a_points_card(live["shop"])
    page = open_as(browser, "android", "uk-UA")
    page.goto(card["card_url"])
    badge = page.locator("a.badge-google")
    assert badge.get_attribute("href").startswith("https://pay.google.com/gp/v/save/")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 31, 31)"
    assert badge.bounding_box()["height"] >= 48
    assert page.locator("a.badge-apple").count() == 0
    assert page.locator(".other #add-to-apple-wallet").get_attribute("href").endswith(
        "/pass.pkpass")
    shot(page, "android-uk-points")
    no_policy_violations(page)


def test_a_desktop_shows_a_qr_code_that_opens_this_page_on_a_phone(
        browser: Any, live: dict[str, Any], tmp_path: Path) -> None:
    card = a_points_card(live["shop"])
    page = open_as(browser, "desktop")
    page.goto(card["card_url"] + "?lang=en")
    qr = page.locator("#page-qr")
    qr.wait_for()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("a.badge").count() == 0  # links to both wallets, no phone badge
    assert page.locator("#add-to-apple-wallet").count() == 1
    assert page.locator("#add-to-google-wallet").count() == 1
    picture = tmp_path / "qr.png"
    picture.write_bytes(page.request.get(qr.evaluate("img => img.src")).body())
    read = zxingcpp.read_barcodes(Image.open(picture))
    assert [result.text for result in read] == [card["card_url"]]
    shot(page, "desktop-en-points")
    no_policy_violations(page)


def test_a_customer_edits_their_details_withdraws_consent_exports_and_deletes(
        browser: Any, live: dict[str, Any]) -> None:
    shop: Shop = live["shop"]
    card = a_points_card(shop)
    enroll(shop, shop.points, name="Someone Else", email="taken@example.com",
           phone="+380671112233")
    page = open_as(browser, "iphone")
    page.goto(card["card_url"] + "?lang=en")
    shot(page, "flow-1-card")

    page.fill("#name", "Oksana Shevchenko")
    page.fill("#phone", "067 765 43 21")
    page.click("#save-details")
    page.locator("#details .saved").wait_for()
    assert page.input_value("#name") == "Oksana Shevchenko"
    assert page.input_value("#phone") == "+380677654321"
    shot(page, "flow-2-details-saved")

    page.fill("#email", "taken@example.com")
    page.fill("#phone", "not a phone")
    page.click("#save-details")
    page.locator("#email-error").wait_for()
    assert "another customer" in page.locator("#email-error").inner_text()
    assert "Someone" not in page.content()
    assert "phone number" in page.locator("#phone-error").inner_text()
    assert page.input_value("#email") == "taken@example.com"  # what was typed stays
    shot(page, "flow-3-details-refused")
    page.goto(card["card_url"] + "?lang=en")
    assert page.input_value("#email") == "oksana@example.com"  # and nothing changed

    page.click("#withdraw-consent")
    page.locator("#consent .saved").wait_for()
    assert "does not send you offers" in page.locator("#consent-state").inner_text()
    shot(page, "flow-4-consent-withdrawn")
    assert publish_offer(shop, shop.points, "Double points Friday") == 1  # the other card
    page.reload()
    assert page.locator("#offers").count() == 0

    with page.expect_download() as download:
        page.click("#export")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["customer"]["name"] == "Oksana Shevchenko"
    assert exported["card"]["number"] == card["number"]
    assert [entry["kind"] for entry in exported["ledger"]][:2] == ["welcome", "earn"]
    assert exported["consent_history"][0]["withdrawn_at"] is not None

    page.click("#delete")
    page.locator("#confirm-delete").wait_for()
    shot(page, "flow-5-delete-confirm")
    page.click("#confirm-delete")
    page.locator("#deleted").wait_for()
    assert "Oksana" not in page.content()
    shot(page, "flow-6-deleted")
    with page.expect_download() as download:
        page.evaluate("url => { location.href = url }", card["apple_pass_url"])
    voided = pass_json(Path(download.value.path()).read_bytes())
    assert voided["voided"] is True
    assert "Oksana" not in json.dumps(voided, ensure_ascii=False)
    no_policy_violations(page)


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_card_page_has_no_serious_accessibility_problems(
        browser: Any, live: dict[str, Any], lang: str) -> None:
    shop: Shop = live["shop"]
    points = a_points_card(shop)
    publish_offer(shop, shop.points, "Free croissant")
    stamps = enroll(shop, shop.stamps, name="Taras", phone="+380501234567")
    for _ in range(10):
        buy(shop, stamps, 6000)
    for device in ("iphone", "desktop"):
        page = open_as(browser, device)
        for kind, card in (("points", points), ("stamps", stamps)):
            page.goto(f"{card['card_url']}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            shot(page, f"{device}-{lang}-{kind}")
            assert serious_violations(page) == [], (device, kind)
        page.goto(f"{points['card_url']}/delete?lang={lang}")
        shot(page, f"{device}-{lang}-delete-confirm")
        assert serious_violations(page) == []
        no_policy_violations(page)


# For each middle dot in the element: the top of the word before it and the dot's own
# (equal when they share a line, that is when the dot does not start one).
DOT_LINES = """element => {
    const found = [], range = document.createRange();
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent;
        for (let at = text.indexOf('·'); at >= 0; at = text.indexOf('·', at + 1)) {
            let before = at - 1;
            while (before > 0 && /\\s/.test(text[before])) before--;
            range.setStart(node, before); range.setEnd(node, before + 1);
            const word = range.getBoundingClientRect().top;
            range.setStart(node, at); range.setEnd(node, at + 1);
            found.push([word, range.getBoundingClientRect().top]);
        }
    }
    return found;
}"""


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_a_headings_middle_dot_never_starts_a_line_on_a_narrow_phone(
        browser: Any, live: dict[str, Any], lang: str) -> None:
    """"Картка лояльності · Зерно Club" wraps on a 320-pixel screen: the dot stays at
    the end of the first line, with the word before it, on the card's and the join page."""
    card = a_points_card(live["shop"])
    playwright, chromium = browser
    context = chromium.new_context(viewport={"width": 320, "height": 640},
                                   device_scale_factor=2, is_mobile=True, has_touch=True,
                                   user_agent=playwright.devices["iPhone SE"]["user_agent"])
    page = context.new_page()
    slug = live["shop"].points["slug"]
    for name, url in (("card", f"{card['card_url']}?lang={lang}"),
                      ("join", f"{live['origin']}/join/{slug}?lang={lang}")):
        page.goto(url)
        heading = page.locator("header h1")
        lines = heading.evaluate("h => h.getClientRects().length && "
                                 "Math.round(h.getBoundingClientRect().height / "
                                 "parseFloat(getComputedStyle(h).lineHeight))")
        dots = heading.evaluate(DOT_LINES)
        shot(page, f"narrow-320-{lang}-{name}")
        assert lines >= 2, (name, heading.inner_text())  # it does wrap at this width
        assert dots and all(abs(word - dot) < 1 for word, dot in dots), (
            name, heading.inner_text(), dots)
    context.close()
