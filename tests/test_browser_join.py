"""A customer's first minute, in headless Chromium: scan, fill the form, add the pass."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.config import Config
from app.delivery.mail import MailSync
from app.integrations.mail import LoggingMailSender
from app.merchants.service import create_merchant
from tests.wallet_helpers import pass_field, pass_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[dict[str, Any]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = tmp_path / "db.sqlite3"
    shutil.copy(sqlite_template, database)
    origin = f"http://127.0.0.1:{port}"
    app = create_app(Config(database_url=f"sqlite:///{database}", base_url=origin,
                            secret_key="browser-secret-0123456789", certs_dir=certs_dir,
                            instance_dir=tmp_path / "instance", worker="external"))
    with app.extensions["loyalpass"].sessions() as session:
        key = create_merchant(session, name="Кав'ярня Зерно", email="o@zerno.example").api_key
    client = app.test_client()
    program = client.post("/api/v1/programs", headers={"Authorization": f"Bearer {key}"}, json={
        "name": "Зерно Club", "locales": ["uk", "ru", "en"], "earn_percent": 3,
        "colors": {"background": "#2E4A3F", "foreground": "#FFFFFF", "label": "#CFE3D8"},
    }).get_json()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"origin": origin, "program": program, "tmp": tmp_path, "app": app}
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(live: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(locale="uk-UA", accept_downloads=True,
                                      viewport={"width": 390, "height": 844})
        yield context.new_page()
        browser.close()


def test_a_customer_joins_in_ukrainian_and_downloads_the_pass(
    page: Any, live: dict[str, Any]
) -> None:
    page.goto(f"{live['origin']}/join/{live['program']['slug']}")
    assert page.locator("button[type=submit]").inner_text() == "Отримати картку"
    page.fill("#name", "Оксана Шевченко")
    page.fill("#phone", "+380 67 123 45 67")
    page.check("input[name=consent]")
    page.click("button[type=submit]")
    page.wait_for_selector("#add-to-apple-wallet")
    assert "Ваша картка" in page.locator("h1").inner_text()
    assert page.locator("#balance").inner_text().startswith("0")
    page.screenshot(path=str(live["tmp"] / "card.png"))
    with page.expect_download() as download_info:
        page.click("#add-to-apple-wallet")
    downloaded = Path(download_info.value.path()).read_bytes()
    body = pass_json(downloaded)
    assert pass_field(body, "member")["value"] == "Оксана Шевченко"
    assert body["webServiceURL"] == f"{live['origin']}/passkit"


def test_a_form_missing_email_and_phone_shows_the_error_in_place(
    page: Any, live: dict[str, Any]
) -> None:
    page.goto(f"{live['origin']}/join/{live['program']['slug']}?lang=en")
    page.fill("#name", "Nobody")
    page.click("button[type=submit]")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "Please check the form" in alert.inner_text()
    assert page.input_value("#name") == "Nobody"


def _join(page: Any, live: dict[str, Any], lang: str, name: str, email: str) -> None:
    page.goto(f"{live['origin']}/join/{live['program']['slug']}?lang={lang}")
    page.fill("#name", name)
    page.fill("#email", email)
    page.click("button[type=submit]")


def _mailed_link(live: dict[str, Any]) -> str:
    runtime = live["app"].extensions["loyalpass"]
    sender = LoggingMailSender()
    sync = MailSync(sessions=runtime.sessions, sender=sender, wallet=runtime.wallet,
                    sender_address=runtime.config.sender_address)
    assert sync.run_once() == 3  # one mail for each of the three requests, oldest first
    body = sender.sent[-1].get_body(("plain",))
    assert body is not None
    return next(line for line in body.get_content().splitlines() if "/r/" in line)


def test_a_returning_customer_is_told_to_check_their_mail_and_the_link_opens_the_card(
    page: Any, live: dict[str, Any]
) -> None:
    shots = live["tmp"]
    _join(page, live, "uk", "Оксана Шевченко", "oksana@example.com")
    page.wait_for_selector("#add-to-apple-wallet")
    number = page.locator("#number").inner_text()
    titles = {"en": "Check your mail", "ru": "Проверьте почту", "uk": "Перевірте пошту"}
    for lang, title in titles.items():
        _join(page, live, lang, "Хтось інший", "oksana@example.com")
        page.wait_for_selector("#answer")
        assert page.locator("h1").inner_text() == title
        assert number not in page.content() and "oksana" not in page.content()
        page.screenshot(path=str(shots / f"check-mail-{lang}.png"), full_page=True)
    link = _mailed_link(live)  # the last one, asked for in Ukrainian
    page.goto(link)
    assert page.locator("#open-card").inner_text() == "Показати картку"
    page.screenshot(path=str(shots / "confirm-uk.png"), full_page=True)
    page.click("#open-card")
    page.wait_for_selector("#add-to-apple-wallet")
    assert page.locator("#number").inner_text() == number
    page.goto(link)
    assert page.locator("h1").inner_text() == "Це посилання вже використано."
    page.screenshot(path=str(shots / "link-used-uk.png"), full_page=True)
    page.click("#join-again")
    page.wait_for_selector("#name")
    page.goto(f"{live['origin']}/r/1.forged")
    assert page.locator("h1").inner_text() == "Це посилання недійсне."
    page.screenshot(path=str(shots / "link-invalid-uk.png"), full_page=True)


def test_the_pages_render_styled_at_phone_width_with_no_policy_violations(
    page: Any, live: dict[str, Any]
) -> None:
    """The policy forbids inline style and script: the pages must not need any."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.goto(f"{live['origin']}/join/{live['program']['slug']}")
    header = page.locator("header")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(46, 74, 63)"
    assert page.locator("button[type=submit]").evaluate(
        "e => getComputedStyle(e).borderRadius") == "12px"
    page.screenshot(path=str(live["tmp"] / "join.png"), full_page=True)
    page.fill("#name", "Оксана Шевченко")
    page.fill("#email", "oksana@example.com")
    page.click("button[type=submit]")
    page.wait_for_selector("#add-to-apple-wallet")
    assert page.locator(".card").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(46, 74, 63)"
    page.screenshot(path=str(live["tmp"] / "card.png"), full_page=True)
    assert not [m for m in messages if "Content Security Policy" in m or m.startswith(
        ("error", "pageerror"))], messages
