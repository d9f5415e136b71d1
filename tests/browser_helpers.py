"""What the browser tests share: a live server of the app on loopback, phones emulated
in Debian's Chromium (Playwright's device descriptors), axe-core, the weight of a page,
and screenshots kept under ``artifacts/`` for reviewers.

Nothing leaves the machine: the app runs on 127.0.0.1, its mails go to an SMTP stand-in
on loopback, and Google's save page is answered by the test (``page.route``).

The ``browser`` fixture launches Chromium for each test, with its own Playwright. A
browser shared by a whole session would save about half a second a test, but Playwright's
sync API leaves its event loop marked as running in the main thread between calls, so
every later test in that process (pytest-xdist mixes files on each worker) would find an
asyncio loop running that is not its own.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.config import Config
from app.delivery.mail import MailSync, make_mail_sender
from app.merchants.service import create_merchant
from tests.google_helpers import make_service_account, write_google_json
from tests.smtp_standin import SmtpStandIn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "browser"
AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
GOOGLE_ISSUER = "3388000000012345678"
IPHONE, ANDROID = "iPhone 13", "Pixel 7"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# The Accept-Language a browser of each of the app's languages sends.
ACCEPT = {"en": "en-GB", "ru": "ru-RU", "uk": "uk-UA"}
# What the join page may weigh with everything it loads, on a weak connection.
PAGE_BUDGET = 100_000


@dataclass
class Live:
    """The app, served on a free port of 127.0.0.1, with one merchant and program."""

    origin: str
    app: Flask
    program: dict[str, Any]
    api_key: str
    mail: SmtpStandIn
    certs_dir: Path
    google_key: Any = None
    _server: Any = field(default=None, repr=False)

    def deliver_mails(self) -> int:
        """Send what the join form queued, through the app's own mail channel, to the
        SMTP stand-in (the tests' app runs no worker of its own)."""
        runtime = self.app.extensions["loyalpass"]
        sync = MailSync(sessions=runtime.sessions, sender=make_mail_sender(runtime.config),
                        wallet=runtime.wallet, sender_address=runtime.config.sender_address)
        sent: int = sync.run_once()
        return sent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def live_app(tmp_path: Path, certs_dir: Path, sqlite_template: Path, *,
             google: bool = False, program: dict[str, Any] | None = None,
             changes: dict[str, Any] | None = None) -> Iterator[Live]:
    """The app on loopback with its mails going to an SMTP stand-in; with ``google``,
    Google Wallet on (a service account of our own; no worker runs, so nothing calls
    Google: cards get their save links, signed here); ``changes`` to its ``Config`` (a
    worker and a push service of the test's own, say)."""
    port = free_port()
    database = tmp_path / "db.sqlite3"
    shutil.copy(sqlite_template, database)
    origin = f"http://127.0.0.1:{port}"
    google_key = None
    extra: dict[str, Any] = {}
    if google:
        certs = tmp_path / "certs-google"
        shutil.copytree(certs_dir, certs)
        info, google_key = make_service_account("https://127.0.0.1:9/token")
        write_google_json(certs, info)
        extra = {"certs_dir": certs, "google_issuer_id": GOOGLE_ISSUER}
    with SmtpStandIn() as mail:
        config = Config(database_url=f"sqlite:///{database}", base_url=origin,
                        secret_key="browser-secret-0123456789", certs_dir=certs_dir,
                        instance_dir=tmp_path / "instance", worker="external",
                        smtp_url=f"smtp://127.0.0.1:{mail.port}?timeout=5")
        app = create_app(config.with_changes(**extra, **(changes or {})))
        with app.extensions["loyalpass"].sessions() as session:
            key = create_merchant(session, name="Кав'ярня Зерно",
                                  email="o@zerno.example").api_key
        client = app.test_client()
        created = client.post("/api/v1/programs", headers={"Authorization": f"Bearer {key}"},
                              json=program or default_program())
        assert created.status_code == 201, created.get_json()
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(origin=origin, app=app, program=created.get_json(), api_key=key,
                       mail=mail, certs_dir=extra.get("certs_dir", certs_dir),
                       google_key=google_key, _server=server)
        finally:
            server.shutdown()
            thread.join(5)
            app.extensions["loyalpass"].engine.dispose()


def default_program() -> dict[str, Any]:
    return {
        "name": "Зерно Club", "locales": ["uk", "ru", "en"], "earn_percent": 3,
        "currency": "UAH", "welcome_points": 50, "ask_birthday": True,
        "terms": "Бали нараховуються за кожну покупку.\n\nБали діють 12 місяців.",
        "privacy": "Ми зберігаємо ваше ім'я та контакти лише для програми лояльності.",
        "colors": {"background": "#2E4A3F", "foreground": "#FFFFFF", "label": "#CFE3D8"},
    }


def device(playwright: Any, name: str) -> dict[str, Any]:
    """Playwright's descriptor of a phone, for a Chromium context (its browser type is
    ours, whatever the descriptor's default)."""
    described = dict(playwright.devices[name])
    described.pop("default_browser_type", None)
    return described


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium for one test; its Playwright is ``browser.playwright`` (for the
    phones' descriptors)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        launched = running.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        launched.playwright = running
        yield launched
        launched.close()


def page_of(browser: Any, *, lang: str = "en", phone: bool = False,
            model: str | None = None, **options: Any) -> Any:
    """A page in a new context (its own cookies) whose language is ``lang``: a desktop
    1280 wide, an iPhone with ``phone``, or the Playwright device ``model``; ``options``
    go to the context (``java_script_enabled=False``, say)."""
    name = model or (IPHONE if phone else None)
    looks = device(browser.playwright, name) if name else dict(DESKTOP)
    context = browser.new_context(locale=ACCEPT[lang], **looks, **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def shot(page: Any, name: str, folder: Path = ARTIFACTS) -> Path:
    """A full-page screenshot kept for reviewers: ``<folder>/<name>.png``, by default
    under ``artifacts/browser/``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")
                   ) -> list[dict[str, Any]]:
    """axe-core's violations of these impacts on the page as it stands. The library is
    evaluated through the DevTools protocol, which the pages' CSP (no inline script)
    does not govern, so the page is tested under its real policy."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.html)}))")
    return [item for item in found if item["impact"] in impacts]


@dataclass
class Loads:
    """What a page load fetched: each response's URL, resource type and body bytes."""

    responses: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(size for _, _, size in self.responses)

    def origins(self) -> set[str]:
        return {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
                for url, _, _ in self.responses}

    def as_text(self) -> str:
        rows = [f"{size:>8}  {kind:<11} {url}" for url, kind, size in self.responses]
        return "\n".join([*rows, f"{self.total:>8}  total"])


def record_loads(page: Any) -> Loads:
    """Start counting what the page fetches (call before ``goto``)."""
    loads = Loads()

    def counted(response: Any) -> None:
        try:
            size = len(response.body())
        except Exception:  # a redirect or an aborted load has no body
            size = 0
        loads.responses.append((response.url, response.request.resource_type, size))

    page.on("response", counted)
    return loads


def write_artifact(name: str, text: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(text)
    return path


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking its signature (the test checks it)."""
    import base64

    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims
