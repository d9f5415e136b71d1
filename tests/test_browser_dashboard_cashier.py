"""The cashier screen in headless Chromium on a phone and a tablet: a card found by its
typed number, a purchase and a redemption recorded with what they earned and the new
balance, a double click on "Record" recording one purchase, a refund, an analyst refused,
the pass's barcode read by the camera (a fake camera playing a picture of the barcode)
through zxing where the browser has no BarcodeDetector and through BarcodeDetector where it
has one, axe-core, and screenshots in three languages under ``artifacts/dashboard/cashier/``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qrcode
from PIL import Image
from sqlalchemy import func, select

from app.ledger.models import Purchase
from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from tests.browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IPHONE,
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

SHOTS = ROOT / "artifacts" / "dashboard" / "cashier"
TABLET = "iPad Mini"
CASHIER = "cashier@zerno.example"


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    """The app on loopback with its owner, a cashier and an analyst who can log in."""
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            for role in ("cashier", "analyst"):
                session.add(Staff(merchant_id=owner.merchant_id, role=role, name=role.title(),
                                  email=f"{role}@zerno.example",
                                  password_hash=hash_password(PASSWORD)))
            session.commit()
        yield served


def _page(browser: Any, *, lang: str = "en", tablet: bool = False,
          javascript: bool = True) -> Any:
    return page_of(browser, lang=lang, model=TABLET if tablet else IPHONE,
                   java_script_enabled=javascript)


def _card(live: Live, name: str = "Олена Коваль") -> dict[str, Any]:
    client = live.app.test_client()
    created = client.post(f"/api/v1/programs/{live.program['id']}/cards",
                          headers={"Authorization": f"Bearer {live.api_key}"},
                          json={"name": name, "email": f"{abs(hash(name))}@example.com"})
    assert created.status_code == 201, created.get_json()
    body: dict[str, Any] = created.get_json()
    return body


def _purchases(live: Live) -> int:
    with live.app.extensions["loyalpass"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Purchase)) or 0


def _spaced(number: str) -> str:
    return " ".join(number[start:start + 4] for start in range(0, len(number), 4))


def _find(page: Any, text: str) -> None:
    """Type ``text`` into the find field, going to the cashier screen first if need be."""
    if page.locator("input[name=q]").count() == 0:
        page.locator("nav.sections a[href$='/dashboard/cashier']").click()
        page.locator("input[name=q]").wait_for()
    page.fill("input[name=q]", text)
    page.click("form.find button.find-go")


def _open_card(page: Any, live: Live, card: dict[str, Any], email: str = CASHIER) -> None:
    log_in(page, live, email)
    _find(page, _spaced(card["number"]))
    page.locator("form[action$='/purchases']").wait_for()


def _record(page: Any, amount: str, redeem: str | None = None) -> str:
    page.fill("input[name=amount]", amount)
    if redeem is not None:
        page.fill("input[name=redeem_points]", redeem)
    page.click("button.record")
    receipt = page.locator("section.receipt")
    receipt.wait_for()
    text: str = page.locator("main").inner_text()
    return text


def test_a_cashier_finds_a_card_by_its_typed_number_and_records_a_purchase(
        browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    _open_card(page, live, card)
    assert "50 points" in page.locator("#balance").inner_text()
    text = _record(page, "250,00")  # 3 % of 250.00: 7 points
    assert "Purchase recorded" in text
    assert "+7" in page.locator("section.receipt").inner_text()
    assert page.locator("#balance").inner_text() == "57 points"
    assert _purchases(live) == 1
    shot(page, "purchase-phone-en", SHOTS)


def test_a_redemption_is_recorded_and_the_balance_falls(browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    _open_card(page, live, card)
    _record(page, "100", redeem="20")  # 80.00 paid earns 2: 50 - 20 + 2
    receipt = page.locator("section.receipt").inner_text()
    assert "−20" in receipt and "+2" in receipt
    assert page.locator("#balance").inner_text() == "32 points"


def test_a_double_click_on_record_records_exactly_one_purchase(
        browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    _open_card(page, live, card)
    page.fill("input[name=amount]", "100")
    page.dblclick("button.record")
    page.locator("section.receipt").wait_for()
    page.wait_for_load_state("networkidle")
    assert _purchases(live) == 1
    assert page.locator("#balance").inner_text() == "53 points"


def test_an_answer_lost_on_the_way_and_a_second_tap_record_one_purchase(
        browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    _open_card(page, live, card)
    sent: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if sent:
            route.continue_()
            return
        sent.append(route.fetch().status)  # the server recorded it; the answer is lost
        route.abort("connectionreset")

    page.route("**/purchases", lose_the_first_answer)
    page.fill("input[name=amount]", "100")
    page.click("button.record")
    page.locator("button.record:enabled").wait_for()  # the page is still there
    assert sent == [201] and _purchases(live) == 1
    page.click("button.record")  # the cashier taps again: the same attempt, the same key
    page.locator("section.receipt", has_text="Recorded already").wait_for()
    assert _purchases(live) == 1
    assert page.locator("#balance").inner_text() == "53 points"


def test_a_cashier_refunds_a_recent_purchase(browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser, lang="uk")
    _open_card(page, live, card)
    _record(page, "300")  # +9: 59
    page.locator("form.refund button").first.click()
    page.locator("section.receipt", has_text="Повернення записано").wait_for()
    assert page.locator("#balance").inner_text() == "50 балів"
    shot(page, "refund-phone-uk", SHOTS)


def test_an_analyst_is_refused_the_cashier_screen(browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    log_in(page, live, "analyst@zerno.example")
    page.locator("h1", has_text="Programs").wait_for()
    assert page.locator("nav.sections a", has_text="Cashier").count() == 0
    for path in ("/dashboard/cashier", f"/dashboard/cashier/cards/{card['id']}"):
        assert page.goto(f"{live.origin}{path}").status == 403, path
    assert "Your role does not allow this." in page.locator("main").inner_text()


def test_the_cashier_pages_have_no_serious_accessibility_violations(
        browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser)
    _open_card(page, live, card)
    assert axe_violations(page) == []
    _record(page, "12.50")
    assert axe_violations(page) == []
    page.goto(f"{live.origin}/dashboard/cashier?q=0000")
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_screenshots_of_a_sale_on_a_phone_and_a_tablet(browser: Any, live: Live,
                                                        lang: str) -> None:
    card = _card(live)
    for tablet in (False, True):
        page = _page(browser, lang=lang, tablet=tablet)
        log_in(page, live, CASHIER)
        _find(page, "0000 0000")
        page.locator("p.problem").wait_for()
        shot(page, f"not-found-{'tablet' if tablet else 'phone'}-{lang}", SHOTS)
        _find(page, card["number"])
        page.locator("form[action$='/purchases']").wait_for()
        shot(page, f"card-{'tablet' if tablet else 'phone'}-{lang}", SHOTS)
        _record(page, "1 234,50" if lang != "en" else "1234.50", redeem="5")
        shot(page, f"receipt-{'tablet' if tablet else 'phone'}-{lang}", SHOTS)
        page.context.close()


# The camera: Chromium plays a picture of the pass's barcode as its only camera.

def _y4m(message: str, path: Path) -> Path:
    """A few frames of video (YUV4MPEG2, 4:2:0) showing the QR code of ``message``."""
    picture = qrcode.make(message, box_size=8, border=4).get_image().convert("L")
    frame = Image.new("L", (640, 480), 255)
    frame.paste(picture, ((640 - picture.width) // 2, (480 - picture.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (320 * 240)
    with io.BytesIO() as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(5):
            out.write(b"FRAME\n" + luma + chroma + chroma)
        path.write_bytes(out.getvalue())
    return path


@pytest.fixture
def camera(tmp_path: Path, live: Live) -> Iterator[tuple[Any, dict[str, Any]]]:
    from playwright.sync_api import sync_playwright

    card = _card(live, "Тарас Камера")
    video = _y4m(card["barcode"]["message"], tmp_path / "barcode.y4m")
    with sync_playwright() as running:
        launched = running.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[
                *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}"])
        launched.playwright = running
        yield launched, card
        launched.close()


NO_DETECTOR = "delete window.BarcodeDetector;"
# A BarcodeDetector that reads every frame as the card's barcode (Chromium on Linux has
# none of its own): the page must use it and never load zxing.
FAKE_DETECTOR = """
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code", "code_128"]); }
  constructor(options) { window.detectorFormats = options.formats; }
  detect(source) { return Promise.resolve([{rawValue: "MESSAGE", format: "qr_code"}]); }
};
"""


@pytest.mark.parametrize("detector", ["zxing", "native"])
def test_scanning_the_pass_with_the_camera_opens_its_card(
        camera: tuple[Any, dict[str, Any]], live: Live, detector: str) -> None:
    browser_with_camera, card = camera
    page = _page(browser_with_camera)
    page.context.grant_permissions(["camera"], origin=live.origin)
    page.add_init_script(NO_DETECTOR if detector == "zxing" else FAKE_DETECTOR.replace(
        "MESSAGE", card["barcode"]["message"]))
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    log_in(page, live, CASHIER)
    page.locator("h1", has_text="Programs").wait_for()
    page.goto(f"{live.origin}/dashboard/cashier")
    page.click("#scan")
    page.locator("form[action$='/purchases']").wait_for()
    assert page.url == f"{live.origin}/dashboard/cashier/cards/{card['id']}"
    assert "Тарас Камера" in page.locator("main").inner_text()
    zxing = [url for url in loaded if "vendor/zxing" in url]
    assert bool(zxing) == (detector == "zxing")


def test_without_a_camera_the_scan_button_stays_hidden_and_typing_works(
        browser: Any, live: Live) -> None:
    card = _card(live)
    page = _page(browser, javascript=False)
    _open_card(page, live, card)
    assert not page.locator("#scan").is_visible()
    assert "50 points" in page.locator("#balance").inner_text()
