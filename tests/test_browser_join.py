"""A customer's first minute, in headless Chromium emulating their phone: scan the
counter's code, fill the one-screen form, add the card to the wallet; a returning
customer's mailed link; the pages in three languages, their weight, their accessibility.

Every step leaves a screenshot under ``artifacts/browser/`` (gitignored) for reviewers.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select

from app.cards.models import Card, Customer
from tests.browser_helpers import (
    ANDROID,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    IPHONE,
    PAGE_BUDGET,
    Live,
    axe_violations,
    device,
    jwt_claims,
    live_app,
    record_loads,
    shot,
    write_artifact,
)
from tests.passes.conftest import openssl_verify
from tests.wallet_helpers import pass_field

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

LANGUAGES = {"en": "en-GB", "ru": "ru-RU", "uk": "uk-UA"}


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template) as served:
        yield served


@pytest.fixture
def live_google(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template, google=True) as served:
        yield served


@pytest.fixture
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture
def browser(playwright: Any) -> Iterator[Any]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def phone(playwright: Any, browser: Any, name: str, lang: str, **options: Any) -> Any:
    """A page in a new context emulating the phone ``name`` whose language is ``lang``."""
    context = browser.new_context(**device(playwright, name), locale=LANGUAGES[lang],
                                  accept_downloads=True, **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def join_url(live: Live, **query: str) -> str:
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return f"{live.origin}/join/{live.program['slug']}" + (f"?{suffix}" if suffix else "")


def fill_and_send(page: Any, **fields: str) -> None:
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("#join")


def customer(live: Live, email: str) -> Customer:
    with live.app.extensions["loyalpass"].sessions() as session:
        found = session.scalars(select(Customer).where(Customer.email == email)).one()
        session.expunge(found)
        return found


def assert_valid_pkpass(package: bytes, live: Live, tmp_path: Path) -> dict[str, Any]:
    """A pass Wallet would open: every file hashed in the manifest, the manifest signed
    up to the certificate chain's root; its pass.json."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name
    verified = openssl_verify(tmp_path, signature=files["signature"],
                              content=files["manifest.json"],
                              root_pem=(live.certs_dir / "root.pem").read_bytes())
    assert verified.returncode == 0, verified.stderr
    body: dict[str, Any] = json.loads(files["pass.json"])
    return body


def test_an_iphone_customer_scans_joins_and_downloads_a_signed_pass(
    playwright: Any, browser: Any, live: Live, tmp_path: Path
) -> None:
    page = phone(playwright, browser, IPHONE, "uk")
    page.goto(join_url(live))  # what the counter's QR code opens
    assert page.locator("#join").inner_text() == "Отримати картку"
    assert page.locator("#offer").inner_text() == "50 балів за реєстрацію"
    assert page.locator("#consent").is_checked() is False
    shot(page, "iphone-1-join-uk")
    page.fill("#name", "Оксана Шевченко")
    page.fill("#phone", "067 123 45 67")  # a local number: the program is in Ukraine
    page.check("#consent")
    shot(page, "iphone-2-filled-uk")
    page.click("#join")
    page.wait_for_selector("#add-to-apple-wallet")
    assert "Ваша картка" in page.locator("h1").inner_text()
    assert page.locator("#balance").inner_text().startswith("50")
    shot(page, "iphone-3-card-uk")
    with page.expect_download() as download_info:
        page.click("#add-to-apple-wallet")
    download = download_info.value
    assert download.suggested_filename == f"{live.program['slug']}.pkpass"
    body = assert_valid_pkpass(Path(download.path()).read_bytes(), live, tmp_path)
    assert pass_field(body, "member")["value"] == "Оксана Шевченко"
    assert body["webServiceURL"] == f"{live.origin}/passkit"
    with live.app.extensions["loyalpass"].sessions() as session:
        stored = session.scalars(select(Customer)).one()
        assert (stored.phone, stored.marketing_consent) == ("+380671234567", True)


def test_an_android_customer_joins_and_is_handed_googles_save_link(
    playwright: Any, browser: Any, live_google: Live
) -> None:
    live = live_google
    page = phone(playwright, browser, ANDROID, "ru")
    opened: list[Any] = []

    def google(route: Any) -> None:  # Google's save page, answered here
        opened.append(route.request)
        route.fulfill(status=200, content_type="text/html",
                      body="<!doctype html><title>Google Wallet</title>")

    page.route("https://pay.google.com/**", google)
    page.goto(join_url(live))
    assert page.locator("#join").inner_text() == "Получить карту"
    shot(page, "android-1-join-ru")
    fill_and_send(page, name="Андрей Коваль", email="andriy@example.com")
    page.wait_for_selector("#add-to-google-wallet")
    shot(page, "android-2-card-ru")
    page.click("#add-to-google-wallet")
    page.wait_for_url("https://pay.google.com/**")
    assert len(opened) == 1
    request = opened[0]
    assert "referer" not in request.headers  # the card page's URL is its secret
    token = request.url.removeprefix("https://pay.google.com/gp/v/save/")
    claims = jwt_claims(token)
    serial = claims["payload"]["loyaltyObjects"][0]["id"].split(".", 1)[1]
    assert claims["payload"]["loyaltyObjects"][0]["id"] == f"3388000000012345678.{serial}"
    assert claims["aud"] == "google" and claims["typ"] == "savetowallet"
    assert claims["origins"] == [live.origin]
    signed, signature = token.rsplit(".", 1)
    live.google_key.public_key().verify(  # signed with the service account's key
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    with live.app.extensions["loyalpass"].sessions() as session:
        card = session.scalars(select(Card).where(Card.serial_number == serial)).one()
        assert card.customer.email == "andriy@example.com"  # the card just made


CASES = [  # what is sent, the field that must say so, what it says (in English)
    ({"name": "", "email": "olena@example.com"}, "name", "Enter your name."),
    ({"name": "Olena", "email": "olena@"}, "email",
     "Check the email address: it should look like name@example.com."),
    ({"name": "Olena", "phone": "12345"}, "phone",
     "Check the phone number: write it like 050 123 4567."),
    ({"name": "Olena"}, "phone", "Enter an email address or a phone number."),
    ({"name": "Olena", "email": "olena@example.com", "birthday": "2999-01-01"}, "birthday",
     "A birthday cannot be in the future."),
]


def test_each_fault_is_said_at_its_field_and_every_value_is_kept(
    playwright: Any, browser: Any, live: Live
) -> None:
    page = phone(playwright, browser, IPHONE, "en")
    for number, (fields, field, message) in enumerate(CASES, 1):
        page.goto(join_url(live, lang="en"))
        page.check("#consent")
        fill_and_send(page, **fields)
        page.wait_for_selector("[role=alert]")
        assert "Please check the form" in page.locator("[role=alert]").inner_text()
        error = page.locator(f"#{field}-error")
        assert error.inner_text() == message
        box = page.locator(f"#{field}")
        assert box.get_attribute("aria-invalid") == "true"
        assert f"{field}-error" in (box.get_attribute("aria-describedby") or "").split()
        assert error.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
        for name, value in fields.items():
            assert page.input_value(f"#{name}") == value, name
        assert page.locator("#consent").is_checked()
        shot(page, f"errors-{number}-{field}-en")
        page.click(f"[role=alert] a[href='#{field}']")  # the summary leads to the field
        assert page.evaluate("() => location.hash") == f"#{field}"
    with live.app.extensions["loyalpass"].sessions() as session:
        assert session.scalars(select(Customer)).all() == []


def test_a_returning_customer_is_mailed_a_link_that_opens_the_card_and_keeps_the_new_phone(
    playwright: Any, browser: Any, live: Live
) -> None:
    page = phone(playwright, browser, IPHONE, "uk")
    page.goto(join_url(live))
    fill_and_send(page, name="Оксана Шевченко", email="oksana@example.com")
    page.wait_for_selector("#add-to-apple-wallet")
    number = page.locator("#number").inner_text()
    stranger = phone(playwright, browser, ANDROID, "uk")  # the same person, another phone
    stranger.goto(join_url(live))
    fill_and_send(stranger, name="Оксана", email="oksana@example.com", phone="067 123 45 67")
    stranger.wait_for_selector("#answer")
    assert stranger.locator("h1").inner_text() == "Перевірте пошту"
    assert number not in stranger.content() and "oksana" not in stranger.content()
    shot(stranger, "returning-1-check-mail-uk")
    assert customer(live, "oksana@example.com").phone is None  # nothing stored yet
    assert live.deliver_mails() == 1
    mail = live.mail.mails()[0]
    assert mail["To"] == "oksana@example.com" and mail["Subject"] == "Ваша картка · Зерно Club"
    link = live.mail.links()[0]
    stranger.goto(link)
    assert stranger.locator("#open-card").inner_text() == "Показати картку"
    assert stranger.locator("label[for=keep-phone]").inner_text() == \
        "Телефон: +380 67 123 4567"
    assert stranger.locator("#keep-phone").is_checked() is False
    assert stranger.locator("#keep-name").is_checked() is False
    shot(stranger, "returning-2-confirm-uk")
    stranger.check("#keep-phone")
    stranger.click("#open-card")
    stranger.wait_for_selector("#add-to-apple-wallet")
    assert stranger.locator("#number").inner_text() == number
    shot(stranger, "returning-3-card-uk")
    kept = customer(live, "oksana@example.com")
    assert (kept.name, kept.phone) == ("Оксана Шевченко", "+380671234567")
    stranger.goto(link)
    assert stranger.locator("h1").inner_text() == "Це посилання вже використано."
    shot(stranger, "returning-4-link-used-uk")


@pytest.mark.parametrize(("lang", "button", "name_label"), [
    ("ru", "Получить карту", "Ваше имя"), ("uk", "Отримати картку", "Ваше ім'я"),
    ("en", "Get my card", "Your name"),
])
def test_the_join_page_speaks_the_phones_language_at_phone_and_desktop_width(
    playwright: Any, browser: Any, live: Live, lang: str, button: str, name_label: str
) -> None:
    for kind, page in (("phone", phone(playwright, browser, ANDROID, lang)),
                       ("desktop", browser.new_context(**DESKTOP, locale=LANGUAGES[lang])
                        .new_page())):
        page.goto(join_url(live))
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("#join").inner_text() == button
        assert page.locator("label[for=name]").inner_text() == name_label
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        place = page.locator("#join").bounding_box()
        assert place["y"] + place["height"] <= page.viewport_size["height"]  # one screen
        shot(page, f"join-{lang}-{kind}")
    switched = phone(playwright, browser, IPHONE, "ru")
    switched.goto(join_url(live))
    switched.click("nav.langs a[lang=en]")
    assert switched.locator("#join").inner_text() == "Get my card"


def test_the_join_page_and_all_it_loads_weigh_under_100_kb_and_come_from_us(
    playwright: Any, browser: Any, live: Live
) -> None:
    page = phone(playwright, browser, IPHONE, "uk")
    loads = record_loads(page)
    page.goto(join_url(live), wait_until="networkidle")
    write_artifact("join-page-weight.txt", loads.as_text() + "\n")
    kinds = {kind for _, kind, _ in loads.responses}
    assert {"document", "stylesheet", "image"} <= kinds, loads.as_text()
    assert "script" not in kinds and "font" not in kinds
    assert loads.origins() == {live.origin}, loads.as_text()
    assert loads.total < PAGE_BUDGET, loads.as_text()


def test_the_join_form_works_without_javascript(
    playwright: Any, browser: Any, live: Live
) -> None:
    page = phone(playwright, browser, ANDROID, "uk", java_script_enabled=False)
    page.goto(join_url(live))
    fill_and_send(page, name="Без Скриптів", phone="050 123 4567")
    page.wait_for_selector("#add-to-apple-wallet")
    page.goto(join_url(live))
    fill_and_send(page, name="", phone="050")
    page.wait_for_selector("#name-error")
    assert page.input_value("#phone") == "050"
    shot(page, "no-javascript-errors-uk")


def test_the_pages_follow_the_policy_and_the_programs_colours(
    playwright: Any, browser: Any, live: Live
) -> None:
    """The policy forbids inline style and script: the pages must not need any."""
    page = phone(playwright, browser, IPHONE, "uk")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.goto(join_url(live))
    assert page.locator("header").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(46, 74, 63)"
    assert page.locator("#join").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(46, 74, 63)"
    assert page.locator("#join").evaluate("e => getComputedStyle(e).borderRadius") == "12px"
    page.click("#terms-link")
    assert "Бали діють 12 місяців." in page.locator("#document").inner_text()
    shot(page, "terms-uk")
    page.click("#back-to-join")
    fill_and_send(page, name="Оксана Шевченко", email="oksana@example.com")
    page.wait_for_selector("#add-to-apple-wallet")
    assert page.locator(".card").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(46, 74, 63)"
    assert not [m for m in messages if "Content Security Policy" in m or m.startswith(
        ("error", "pageerror"))], messages


def _recovery_pages(live: Live, page: Any, lang: str, email: str) -> Iterator[str]:
    """Walk the pages of the join and recovery flow in ``lang``, yielding each one's
    name while the browser shows it."""
    page.goto(join_url(live, lang=lang))
    yield "join"
    fill_and_send(page, name="", email="x@", birthday="2999-01-01")
    page.wait_for_selector("[role=alert]")
    yield "join-errors"
    page.goto(join_url(live, lang=lang))
    fill_and_send(page, name="Owner", email=email)
    page.wait_for_selector("#add-to-apple-wallet")
    page.goto(join_url(live, lang=lang))
    fill_and_send(page, name="Someone", email=email, phone="050 123 4567", birthday="1990-05-17")
    page.wait_for_selector("#answer")
    yield "check-mail"
    live.deliver_mails()
    link = live.mail.links()[-1]
    page.goto(f"{link}?lang={lang}")
    page.wait_for_selector("#open-card")
    yield "confirm"
    page.click("#open-card")
    page.wait_for_selector("#add-to-apple-wallet")
    page.goto(f"{link}?lang={lang}")
    yield "link-used"
    page.goto(f"{live.origin}/r/1.forged?lang={lang}")
    yield "link-invalid"
    page.goto(f"{live.origin}/join/{live.program['slug']}/privacy?lang={lang}")
    yield "privacy"


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_join_and_recovery_pages_have_no_serious_accessibility_violations(
    playwright: Any, browser: Any, live: Live, lang: str
) -> None:
    page = phone(playwright, browser, IPHONE, lang)
    seen = []
    for name in _recovery_pages(live, page, lang, f"owner-{lang}@example.com"):
        violations = axe_violations(page)
        assert violations == [], (name, violations)
        shot(page, f"a11y-{lang}-{name}")
        seen.append(name)
    assert seen == ["join", "join-errors", "check-mail", "confirm", "link-used",
                    "link-invalid", "privacy"]


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_the_whole_form_with_a_birthday_fits_an_iphones_first_screen(
    playwright: Any, browser: Any, live: Live, lang: str
) -> None:
    """iPhone 13's Safari leaves 390x664 CSS pixels: the offer, every field (name,
    phone or email, birthday), the consent and the button show without scrolling, in
    text no smaller than is readable, and inputs iOS does not zoom into (16 px)."""
    assert live.program["ask_birthday"] and live.program["welcome_points"]
    page = phone(playwright, browser, IPHONE, lang)
    page.goto(join_url(live, location="1", src="flyer-may"))
    assert page.locator("#birthday").count() == 1 and page.locator("#offer").count() == 1
    button = page.locator("#join").bounding_box()
    height = page.viewport_size["height"]
    page.screenshot(path=str(shot(page, f"join-{lang}-iphone-birthday")).replace(
        ".png", "-first-screen.png"))
    assert button["y"] + button["height"] <= height, (lang, button, height)
    small = page.evaluate("""() => [...document.querySelectorAll(
        'main label, main legend, main button, main p, main a')]
        .map(e => [e.textContent.trim(), parseFloat(getComputedStyle(e).fontSize)])
        .filter(([_, size]) => size < 14)""")
    assert small == [], small
    inputs = page.evaluate("""() => [...document.querySelectorAll(
        'input[type=text], input[type=tel], input[type=email], input[type=date]')]
        .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert inputs and min(inputs) >= 16, inputs
