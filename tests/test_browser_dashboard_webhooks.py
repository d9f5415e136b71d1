"""The dashboard's Webhooks page in Chromium: an owner adds an endpoint and copies its
secret, shown once; the delivery log shows what the receiver on loopback took, and Send
again sends it once more; on a phone the page fits the screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.delivery.webhook_client import PinnedSender
from app.delivery.webhooks import WebhookSync
from app.merchants.models import Staff
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
from tests.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]

SHOTS = ROOT / "artifacts" / "dashboard"
OWNER = "o@zerno.example"


@pytest.fixture
def live(tmp_path: Path, certs_dir: Path, sqlite_template: Path) -> Iterator[Live]:
    with live_app(tmp_path, certs_dir, sqlite_template,
                  changes={"webhooks_allow_private": True}) as served:
        with served.app.extensions["loyalpass"].sessions() as session:
            owner = session.scalars(select(Staff).where(Staff.email == OWNER)).one()
            owner.password_hash = hash_password(PASSWORD)
            session.commit()
        yield served


def _page(browser: Any, live: Live, *, phone: bool = False) -> Any:
    page = page_of(browser, phone=phone)
    page.goto(f"{live.origin}/dashboard/login")
    page.fill("#email", OWNER)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.locator("h1", has_text="Programs").wait_for()
    return page


def test_an_owner_adds_an_endpoint_sees_its_secret_once_and_sends_a_delivery_again(
        browser: Any, live: Live) -> None:
    with Receiver() as receiver:
        page = _page(browser, live)
        page.click("nav.sections a:has-text('Webhooks')")
        page.locator("h1", has_text="Webhooks").wait_for()
        page.fill("#url", receiver.url)
        page.click("main form button:has-text('Add the endpoint')")
        secret = page.locator("section.secret code.key")
        secret.wait_for()
        assert secret.inner_text().startswith("whsec_")
        shot(page, "webhooks-desktop", SHOTS)
        assert axe_violations(page) == []
        page.goto(f"{live.origin}/dashboard/webhooks")
        assert page.locator("section.secret").count() == 0  # shown once
        created = live.app.test_client().post(
            f"/api/v1/programs/{live.program['id']}/cards",
            headers={"Authorization": f"Bearer {live.api_key}"},
            json={"name": "Olena", "email": "olena@example.com"})
        assert created.status_code == 201
        runtime = live.app.extensions["loyalpass"]
        channel = WebhookSync(sessions=runtime.sessions,
                              sender=PinnedSender(allow_private=True))
        assert channel.run_once() == 1
        page.click(f"main a:has-text('{receiver.url}')")
        page.locator("td", has_text="Delivered").wait_for()
        page.click("main button:has-text('Send again')")
        page.locator("p.notice", has_text="Queued").wait_for()
        assert channel.run_once() == 1
        assert len(receiver.accepted()) == 2
        assert receiver.accepted()[0].body == receiver.accepted()[1].body
        page.reload()
        shot(page, "webhook-log-desktop", SHOTS)
        phone = _page(browser, live, phone=True)
        phone.goto(f"{live.origin}/dashboard/webhooks")
        shot(phone, "webhooks-phone", SHOTS)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= phone.viewport_size["width"]
        phone.click(f"main a:has-text('{receiver.url}')")
        phone.locator("h1", has_text="Deliveries").wait_for()
        shot(phone, "webhook-log-phone", SHOTS)
        assert phone.evaluate("document.documentElement.scrollWidth") <= (
            phone.viewport_size["width"])
