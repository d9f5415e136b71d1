"""The offers and alerts pages in headless Chromium, against the app with its push worker
running and an APNs stand-in on loopback: an offer composed and published to one tier
reaches that tier's devices only, and its page counts the push; an alert raised by a
velocity limit at the till is acknowledged and its card blocked in the page. Screenshots
on a phone and a desktop in English, Russian and Ukrainian under
``artifacts/dashboard/doffers/``; axe-core finds nothing serious on these pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.cards.models import Card
from app.devices.models import Registration
from app.merchants.models import Staff
from app.merchants.passwords import hash_password
from app.outbox.models import OutboxMessage
from tests.apns_standin import ApnsStandIn, write_test_certificates
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
from tests.push_helpers import install, register, wait_for
from tests.test_browser_dashboard import OWNER, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

SHOTS = ROOT / "artifacts" / "dashboard" / "doffers"
GOLD_TOKEN, SILVER_TOKEN = "a0d0" * 16, "5170" * 16  # hex, as APNs tokens are
PROGRAM = {
    "name": {"uk": "Зерно Club", "ru": "Зерно Club", "en": "Zerno Club"},
    "locales": ["uk", "ru", "en"], "currency": "UAH", "earn_percent": 3,
    "tiers": [{"key": "silver", "name": {"uk": "Срібло", "ru": "Серебро", "en": "Silver"},
               "min_spend": 0, "earn_percent": 3},
              {"key": "gold", "name": {"uk": "Золото", "ru": "Золото", "en": "Gold"},
               "min_spend": 500_000, "earn_percent": 5}],
    "limits": {"purchases_per_card_per_hour": 1},
    "colors": {"background": "#2E4A3F", "foreground": "#FFFFFF", "label": "#CFE3D8"},
}
TITLES = {"uk": "Круасан у подарунок", "ru": "Круассан в подарок", "en": "A free croissant"}


@pytest.fixture
def apns(tmp_path: Path, certs_dir: Path) -> Iterator[tuple[ApnsStandIn, Path]]:
    server = write_test_certificates(tmp_path)
    trusted = tmp_path / "trusted-clients.pem"
    trusted.write_bytes((certs_dir / "root.pem").read_bytes()
                        + (certs_dir / "wwdr.pem").read_bytes())
    standin = ApnsStandIn(certificate_file=server.server_certificate,
                          key_file=server.server_key, client_ca_file=trusted).start()
    yield standin, server.server_ca
    standin.stop()


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path,
         apns: tuple[ApnsStandIn, Path]) -> Iterator[Live]:
    standin, server_ca = apns
    with live_app(tmp_path, certs_dir, sqlite_template, program=PROGRAM, changes={
            "worker": "inline", "apns_url": standin.origin, "apns_ca_file": server_ca,
    }) as served:
        runtime = served.app.extensions["loyalpass"]
        with runtime.sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.add(Staff(merchant_id=owner.merchant_id, role="manager", name="Max",
                              email="manager@zerno.example",
                              password_hash=hash_password(PASSWORD)))
            session.commit()
        yield served
        runtime.stop_workers()


def _api(live: Live) -> Any:
    client = live.app.test_client()
    headers = {"Authorization": f"Bearer {live.api_key}"}

    def call(method: str, path: str, body: Any = None, **extra: Any) -> Any:
        return client.open(path, method=method, json=body,
                           headers={**headers, **extra.get("headers", {})})

    return call


def _card_on_a_phone(live: Live, token: str, tier: str) -> dict[str, Any]:
    call = _api(live)
    card = call("POST", f"/api/v1/programs/{live.program['id']}/cards", {
        "name": f"Holder {tier}", "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "marketing_consent": True}).get_json()
    with live.app.extensions["loyalpass"].sessions() as session:
        session.execute(update(Card).where(Card.id == card["id"]).values(tier=tier))
        session.commit()
    device = live.app.test_client()
    assert register(device, install(device, card), f"iphone-{tier}", token) == 201
    return dict(card)


def _settled(live: Live) -> bool:
    """Whether the worker has sent everything queued so far (an enrolment's push too)."""
    with live.app.extensions["loyalpass"].sessions() as session:
        waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "pending"))
        pushing = session.scalar(select(func.count()).select_from(Registration).where(
            Registration.push_status == "pending"))
    return waiting == 0 and pushing == 0


def _figure(page: Any, name: str) -> str:
    text: str = page.locator(f"[data-figure={name}]").inner_text()
    return text


def test_an_offer_published_to_a_tier_is_pushed_to_that_tiers_devices_only(
        browser: Any, live: Live, apns: tuple[ApnsStandIn, Path]) -> None:
    standin, _ = apns
    _card_on_a_phone(live, GOLD_TOKEN, "gold")
    _card_on_a_phone(live, SILVER_TOKEN, "silver")
    wait_for(lambda: _settled(live), timeout=15)
    before = len(standin.requests)  # the enrolments' own pushes, if they came after
    page = page_of(browser)
    log_in(page, live, OWNER)
    page.locator("nav.sections a", has_text="Offers").click()
    page.locator("a", has_text="New offer").click()
    for code, title in TITLES.items():
        page.fill(f"#title_{code}", title)
    page.fill("#body_uk", "До будь-якої кави до кінця тижня.")
    page.check("input[name=tiers][value=gold]")
    page.click("main button[type=submit]")
    page.locator("h1", has_text="A free croissant").wait_for()
    preview = page.locator("img.pass-preview")
    wait_for(lambda: preview.evaluate("image => image.complete && image.naturalWidth") > 0,
             timeout=15)
    assert axe_violations(page) == []
    page.locator("button", has_text="Publish to these customers").click()
    page.locator("p.notice", has_text="Published.").wait_for()
    assert _figure(page, "cards") == "1"
    wait_for(lambda: any(request.token == GOLD_TOKEN
                         for request in standin.requests[before:]), timeout=15)

    def counted_sent() -> bool:
        page.reload()
        return _figure(page, "pushes_sent") == "1"

    wait_for(counted_sent, timeout=15)
    assert _figure(page, "devices") == "1" and _figure(page, "pushes_pending") == "0"
    assert _settled(live)
    assert [request.token for request in standin.requests[before:]] == [GOLD_TOKEN]
    shot(page, "offer-published-desktop-en", SHOTS)


def test_an_alert_raised_at_the_till_is_acknowledged_and_its_card_blocked(
        browser: Any, live: Live) -> None:
    call = _api(live)
    card = call("POST", f"/api/v1/programs/{live.program['id']}/cards",
                {"name": "Quick", "email": "quick@example.com"}).get_json()
    for attempt, status in ((1, 201), (2, 429)):
        bought = call("POST", "/api/v1/pos/purchases",
                      {"barcode": card["barcode"]["message"], "amount": 5_000},
                      headers={"Idempotency-Key": f"alert-{attempt}"})
        assert bought.status_code == status, bought.get_json()
    page = page_of(browser, phone=True)
    log_in(page, live, "manager@zerno.example")
    page.locator("nav.sections a", has_text="Alerts").click()
    row = page.locator("ul.alerts li", has_text=card["number"])
    row.wait_for()
    assert row.locator(".status-new").count() == 1
    assert axe_violations(page) == []
    shot(page, "alert-new-phone-en", SHOTS)
    row.locator("button", has_text="Acknowledge").click()
    page.locator("p.notice", has_text="Acknowledged.").wait_for()
    row = page.locator("ul.alerts li", has_text=card["number"])
    assert row.locator(".status-new").count() == 0
    assert "Acknowledged" in row.inner_text()
    row.locator("button", has_text="Block the card").click()
    page.locator("p.notice", has_text="The card is blocked").wait_for()
    assert call("GET", f"/api/v1/cards/{card['id']}").get_json()["status"] == "blocked"
    alerts = call("GET", "/api/v1/alerts").get_json()["alerts"]
    assert len(alerts) == 1 and alerts[0]["acknowledged_at"] is not None
    shot(page, "alert-blocked-phone-en", SHOTS)


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_offers_and_alerts_pages_in_each_language_on_a_phone_and_a_desktop(
        browser: Any, live: Live, lang: str) -> None:
    call = _api(live)
    created = call("POST", f"/api/v1/programs/{live.program['id']}/offers", {
        "title": TITLES, "body": {"uk": "До будь-якої кави.", "ru": "К любому кофе.",
                                  "en": "With any coffee."},
        "audience": {"tiers": ["gold"]}}).get_json()
    card = call("POST", f"/api/v1/programs/{live.program['id']}/cards",
                {"name": "Quick", "email": "quick@example.com"}).get_json()
    for attempt in (1, 2):
        call("POST", "/api/v1/pos/purchases",
             {"barcode": card["barcode"]["message"], "amount": 5_000},
             headers={"Idempotency-Key": f"{lang}-{attempt}"})
    for phone in (True, False):
        form = "phone" if phone else "desktop"
        page = page_of(browser, lang=lang, phone=phone)
        log_in(page, live, OWNER)
        page.locator("nav.sections").wait_for()
        for path, name in ((f"/dashboard/programs/{live.program['id']}/offers/new", "compose"),
                           (f"/dashboard/offers/{created['id']}", "offer"),
                           ("/dashboard/offers", "offers"), ("/dashboard/alerts", "alerts")):
            assert page.goto(f"{live.origin}{path}?lang={lang}").status == 200
            if name == "offer":
                assert TITLES[lang] in page.locator("h1").inner_text()
                wait_for(lambda shown=page: shown.locator("img.pass-preview").evaluate(
                    "image => image.complete && image.naturalWidth") > 0, timeout=15)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], (name, form, width)
            shot(page, f"{name}-{form}-{lang}", SHOTS)
            assert axe_violations(page) == [], (name, form)
        page.context.close()
