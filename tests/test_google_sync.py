"""Google Wallet kept in step with the ledger, against a stand-in Google on loopback.

The stand-in speaks HTTPS, checks the service account's signed token assertion and keeps
classes and objects as Google would; Loyalpass runs with its real worker loops, its real
client and the database limiter.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.cards.account import delete_data
from app.cards.audit import Who
from app.config import GOOGLE_REQUESTS_PER_SECOND, Config, ConfigError
from app.db import make_engine
from app.delivery.google.client import make_limiter
from app.delivery.google.limiter import DatabaseSlotReserver
from app.google_wallet.callbacks import record_callback
from app.google_wallet.models import GoogleClass, GoogleMessage, GoogleObject
from app.integrations.fakes import FakePushSender
from app.integrations.ratelimit import SlotLimiter
from passes.google.callbacks import Callback
from tests.conftest import BASE_URL, Api, new_merchant
from tests.google_helpers import make_service_account, write_google_json
from tests.google_standin import GoogleStandIn, sliding_peak

ISSUER = "3388000000012345678"


@dataclass
class Google:
    app: Flask
    api: Api
    standin: GoogleStandIn
    public_key: rsa.RSAPublicKey
    info: dict[str, str]

    def object_id(self, card: dict[str, Any]) -> str:
        return f"{ISSUER}.{card['serial_number']}"

    def purchase(self, card: dict[str, Any], amount: int) -> dict[str, Any]:
        response = self.api.post("/api/v1/pos/purchases",
                                 {"barcode": card["barcode"]["message"], "amount": amount},
                                 headers={"Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def saved(self, object_id: str, event_type: str = "save") -> None:
        """As Google's verified callback says: a customer saved (or deleted) the object."""
        runtime = self.app.extensions["loyalpass"]
        with runtime.sessions() as session:
            assert record_callback(session, callback=Callback(
                class_id=object_id.rsplit(".", 1)[0], object_id=object_id,
                event_type=event_type, nonce=uuid.uuid4().hex,  # type: ignore[arg-type]
                expires_at_ms=int(time.time() * 1000) + 60_000))

    def patches(self, card: dict[str, Any]) -> list[Any]:
        return [request.body for request in self.standin.requests_to(
            "PATCH", f"/loyaltyObject/{self.object_id(card)}")]


def wait_for(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)


def google_config(config: Config, standin: GoogleStandIn, certs: Path, **changes: Any
                  ) -> Config:
    return config.with_changes(
        certs_dir=certs, google_issuer_id=ISSUER, google_api_url=standin.api_url,
        google_ca_file=standin.ca_file, **changes)


@pytest.fixture
def standin() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as running:
        yield running


@pytest.fixture
def google_certs(certs_dir: Path, tmp_path: Path, standin: GoogleStandIn
                 ) -> tuple[Path, dict[str, str], rsa.RSAPublicKey]:
    certs = tmp_path / "certs"
    shutil.copytree(certs_dir, certs)
    info, key = make_service_account(standin.token_uri)
    standin.register(info["client_email"], key.public_key())
    write_google_json(certs, info)
    return certs, info, key.public_key()


def _start(config: Config, standin: GoogleStandIn,
           google_certs: tuple[Path, dict[str, str], rsa.RSAPublicKey], **changes: Any
           ) -> Iterator[Google]:
    certs, info, public_key = google_certs
    app = create_app(google_config(config, standin, certs, **changes),
                     push_sender=FakePushSender())
    try:
        with app.extensions["loyalpass"].sessions() as session:
            api = new_merchant(app.test_client(), session, name="Kava Bar")
        yield Google(app, api, standin, public_key, info)
    finally:
        app.extensions["loyalpass"].stop_workers()
        app.extensions["loyalpass"].engine.dispose()


@pytest.fixture
def google(config: Config, standin: GoogleStandIn,
           google_certs: tuple[Path, dict[str, str], rsa.RSAPublicKey]) -> Iterator[Google]:
    """Loyalpass with its worker loops running in the process, as `loyalpass serve` runs."""
    yield from _start(config, standin, google_certs, worker="inline",
                      worker_poll_interval=0.1)


@pytest.fixture
def google_manual(config: Config, standin: GoogleStandIn,
                  google_certs: tuple[Path, dict[str, str], rsa.RSAPublicKey]
                  ) -> Iterator[Google]:
    """Loyalpass whose worker loops the test turns by hand."""
    yield from _start(config, standin, google_certs, worker="external")


def make_program(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Kava Club", "currency": "UAH", "earn_percent": 2,
            "locales": ["uk", "en", "ru"], **fields}
    response = api.post("/api/v1/programs", body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def enroll(api: Api, program: dict[str, Any], email: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Олена Коваленко", "email": email, "locale": "uk"})
    assert response.status_code == 201, response.get_json()
    card: dict[str, Any] = response.get_json()
    return card


def test_enrolment_inserts_the_class_once_and_each_object_once(google: Google) -> None:
    program = make_program(google.api)
    first = enroll(google.api, program, "olena@example.com")
    second = enroll(google.api, program, "taras@example.com")
    wait_for(lambda: google.object_id(second) in google.standin.objects
             and google.object_id(first) in google.standin.objects)
    class_inserts = google.standin.requests_to("POST", "/loyaltyClass")
    assert len(class_inserts) == 1
    assert class_inserts[0].body["reviewStatus"] == "UNDER_REVIEW"
    assert class_inserts[0].body["programName"] == "Kava Club"
    for card in (first, second):
        inserts = [r for r in google.standin.requests_to("POST", "/loyaltyObject")
                   if r.body.get("id") == google.object_id(card)]
        assert len(inserts) == 1
        stored = google.standin.objects[google.object_id(card)]
        assert stored["classId"] == f"{ISSUER}.loyalpass-program-{program['id']}"
        assert stored["state"] == "ACTIVE"
        assert stored["accountName"] == "Олена Коваленко"
    assert google.standin.verified_assertions, "the token came from a verified assertion"


def test_a_purchase_patches_the_object_with_the_new_balance_within_seconds(
        google: Google) -> None:
    program = make_program(google.api, welcome_points=50)
    card = enroll(google.api, program, "olena@example.com")
    wait_for(lambda: google.object_id(card) in google.standin.objects)
    google.saved(google.object_id(card))
    wait_for(lambda: newest_version_in(google, card))
    started = time.monotonic()
    bought = google.purchase(card, 50_000)  # 2% of 500.00 UAH: 10 points
    assert bought["balance"] == 60

    def patched_balance() -> bool:
        return any(body.get("loyaltyPoints", {}).get("balance", {}).get("int") == 60
                   for body in google.patches(card))

    wait_for(patched_balance, seconds=5)
    assert time.monotonic() - started < 5
    assert google.standin.objects[google.object_id(card)]["loyaltyPoints"]["balance"] == {
        "int": 60}


def test_ten_quick_purchases_lead_to_one_patch_that_ends_on_the_right_balance(
        google_manual: Google) -> None:
    google = google_manual
    loops = google.app.extensions["loyalpass"]
    from app.delivery.workers import make_workers

    push, google_loop = _loops(make_workers(loops, push_sender=FakePushSender()))
    program = make_program(google.api)
    card = enroll(google.api, program, "olena@example.com")
    _drain(push, google_loop)
    assert google.object_id(card) in google.standin.objects
    google.saved(google.object_id(card))
    _drain(push, google_loop)
    saved = len(google.patches(card))  # the save's own patch
    balances = [google.purchase(card, 10_000)["balance"] for _ in range(10)]
    _drain(push, google_loop)
    patches = google.patches(card)[saved:]
    assert len(patches) == 1
    assert patches[0]["loyaltyPoints"]["balance"] == {"int": balances[-1]} == {"int": 20}


def _loops(loops: list[Any]) -> tuple[Any, Any]:
    from app.delivery.google.sync import GoogleWorker
    from app.delivery.pushes import Worker

    push = next(loop for loop in loops if isinstance(loop, Worker))
    google_loop = next(loop for loop in loops if isinstance(loop, GoogleWorker))
    return push, google_loop


def _manual_loops(google: Google) -> tuple[Any, Any]:
    """The app's push and Google loops, to be run by hand (``_drain``)."""
    from app.delivery.workers import make_workers

    return _loops(make_workers(google.app.extensions["loyalpass"],
                               push_sender=FakePushSender()))


def _tiered_card(google: Google, email: str, push: Any, google_loop: Any
                 ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A program with ``TIERS``, a card enrolled in it and its Google object inserted
    (nobody has saved it yet): the program, the card and the object's id."""
    program = make_program(google.api, tiers=TIERS)
    card = enroll(google.api, program, email)
    _drain(push, google_loop)
    return program, card, google.object_id(card)


def _drain(push: Any, google_loop: Any) -> None:
    for _ in range(10):
        if not (push.run_once() + google_loop.run_once()):
            return


def test_a_fourth_notifying_message_in_a_day_is_sent_silently(google: Google) -> None:
    tiers = [{"name": name, "min_spend": spend, "earn_percent": 2} for name, spend in
             (("Bronze", 0), ("Silver", 10_000), ("Gold", 20_000), ("Platinum", 30_000),
              ("Diamond", 40_000))]
    program = make_program(google.api, tiers=tiers)
    card = enroll(google.api, program, "olena@example.com")
    object_id = google.object_id(card)
    wait_for(lambda: object_id in google.standin.objects)
    google.saved(object_id)
    for expected in ("Silver", "Gold", "Platinum", "Diamond"):
        assert google.purchase(card, 10_000)["tier"] == expected
        wait_for(lambda: len(google.standin.messages(object_id)) >= 1)
    messages = wait_for(lambda: len(google.standin.messages(object_id)) == 4
                        and google.standin.messages(object_id))
    kinds = [message["messageType"] for message in messages]
    assert kinds == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]
    assert "Diamond" in messages[3]["header"]

    def recorded() -> list[tuple[bool, bool]]:
        with google.app.extensions["loyalpass"].sessions() as session:
            rows = session.scalars(select(GoogleMessage).order_by(GoogleMessage.id)).all()
            return [(row.notified, row.budget_spent) for row in rows if row.status == "sent"]

    assert wait_for(lambda: len(recorded()) == 4 and recorded()) == [
        (True, False)] * 3 + [(False, True)]
    # The last upgrade's message may go out before the object's patch for it (the message
    # needs the object inserted, not up to date): read the object once its newest version
    # is in.
    wait_for(lambda: newest_version_in(google, card))
    final = google.standin.objects[object_id]
    assert final["secondaryLoyaltyPoints"]["balance"] == {"string": "Diamond"}


def newest_version_in(google: Google, card: dict[str, Any]) -> bool:
    """Whether Google has the card's object as of its newest change (the worker recorded
    the answer to the patch of the newest generation)."""
    with google.app.extensions["loyalpass"].sessions() as session:
        state = session.get(GoogleObject, card["id"])
        return (state is not None and state.status == "synced"
                and state.synced_generation == state.generation)


def test_blocking_a_card_makes_its_object_inactive(google: Google) -> None:
    card = enroll(google.api, make_program(google.api), "olena@example.com")
    object_id = google.object_id(card)
    wait_for(lambda: object_id in google.standin.objects)
    google.saved(object_id)
    assert google.api.post(f"/api/v1/cards/{card['id']}/block", {"reason": "stolen"}
                           ).status_code == 200
    wait_for(lambda: google.standin.objects[object_id]["state"] == "INACTIVE")


def test_google_answering_503_then_429_is_retried_until_the_object_is_in(
        google: Google) -> None:
    program = make_program(google.api)
    wait_for(lambda: google.standin.classes)
    google.standin.fail_next(2, 503)
    google.standin.fail_next(1, 429, retry_after=0)
    card = enroll(google.api, program, "olena@example.com")
    wait_for(lambda: google.object_id(card) in google.standin.objects, seconds=20)

    def recorded() -> bool:  # the worker records Google's answer just after it arrives
        with google.app.extensions["loyalpass"].sessions() as session:
            state = session.get(GoogleObject, card["id"])
            return state is not None and state.inserted and state.status == "synced"

    wait_for(recorded)


def _jwt_parts(url: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    header, payload, signature = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    return (json.loads(decode(header)), json.loads(decode(payload)),
            f"{header}.{payload}".encode(), decode(signature))


def test_the_card_carries_a_short_save_link_signed_by_the_service_account(
        google: Google) -> None:
    card = enroll(google.api, make_program(google.api), "olena@example.com")
    url = card["google_save_url"]
    assert url.startswith("https://pay.google.com/gp/v/save/")
    assert len(url) < 1800
    header, claims, signed, signature = _jwt_parts(url)
    google.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    assert header["alg"] == "RS256" and header["kid"] == google.info["private_key_id"]
    assert claims["iss"] == google.info["client_email"]
    assert claims["aud"] == "google" and claims["typ"] == "savetowallet"
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["origins"] == [BASE_URL]
    class_id = f"{ISSUER}.loyalpass-program-{card['program_id']}"
    assert claims["payload"] == {"loyaltyObjects": [{"id": google.object_id(card),
                                                     "classId": class_id}]}
    tampered = signed.replace(b".", b".e", 1)
    with pytest.raises(InvalidSignature):
        google.public_key.verify(signature, tampered, padding.PKCS1v15(), hashes.SHA256())
    page = google.app.test_client().get(card["card_url"].removeprefix(BASE_URL))
    assert b'id="add-to-google-wallet"' in page.data


def test_the_same_card_shows_the_same_barcode_on_apple_and_google_and_both_are_found(
        google: Google) -> None:
    card = enroll(google.api, make_program(google.api, barcode_format="pdf417"),
                  "olena@example.com")
    object_id = google.object_id(card)
    wait_for(lambda: object_id in google.standin.objects)
    client = google.app.test_client()
    package = client.get(card["apple_pass_url"].removeprefix(BASE_URL)).data
    pass_json = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("pass.json"))
    apple = pass_json["barcodes"][0]
    barcode = google.standin.objects[object_id]["barcode"]
    assert apple["message"] == barcode["value"] == card["barcode"]["message"]
    assert apple["format"] == "PKBarcodeFormatPDF417" and barcode["type"] == "PDF_417"
    assert barcode["alternateText"] == card["number"]
    for scanned in (barcode["value"], barcode["alternateText"], apple["message"]):
        found = google.api.post("/api/v1/pos/lookup", {"barcode": scanned})
        assert found.status_code == 200 and found.get_json()["id"] == card["id"]


def test_the_program_logo_google_fetches_is_a_square_png(google: Google) -> None:
    program = make_program(google.api)
    stored = wait_for(lambda: google.standin.classes)
    logo_url = next(iter(stored.values()))["programLogo"]["sourceUri"]["uri"]
    response = google.app.test_client().get(logo_url.removeprefix(BASE_URL))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert program["slug"] in logo_url


def test_without_an_issuer_id_google_is_off_and_cards_have_no_save_link(
        api: Api, program: dict[str, Any], app: Flask) -> None:
    from app import google_status

    card = api.post(f"/api/v1/programs/{program['id']}/cards",
                    {"name": "Olena", "email": "olena@example.com"}).get_json()
    assert "google_save_url" not in card
    assert google_status(app.extensions["loyalpass"].config).startswith("Google Wallet: off")
    from app.delivery.workers import make_workers

    loops = make_workers(app.extensions["loyalpass"], push_sender=FakePushSender())
    # No Google loop: the presence, mail, pushes, the housekeeping, the automatic offers and
    # the key rotation's.
    assert [type(loop).__name__ for loop in loops] == [
        "Presence", "MailWorker", "WebhookWorker", "Worker", "Housekeeping", "Automations",
        "KeyRotation"]
    for loop in loops:
        loop.run_once()
    with app.extensions["loyalpass"].sessions() as session:
        assert session.scalars(select(GoogleObject)).all() == []
        assert session.scalars(select(GoogleClass)).all() == []


def test_an_issuer_id_without_google_json_fails_at_start_naming_the_file(
        config: Config, tmp_path: Path, certs_dir: Path) -> None:
    certs = tmp_path / "no-google"
    shutil.copytree(certs_dir, certs)
    with pytest.raises(ConfigError, match=r"google\.json"):
        create_app(config.with_changes(certs_dir=certs, google_issuer_id=ISSUER))


def test_two_workers_on_the_database_slots_never_send_more_than_the_rate_in_any_second(
        app: Flask) -> None:
    engine = app.extensions["loyalpass"].engine
    slots: list[float] = []  # the moments granted, as the shared schedule gave them
    sent: list[float] = []  # when each request could go, as this busy machine ran it
    lock = threading.Lock()

    class Recording(DatabaseSlotReserver):
        def reserve(self, interval: float) -> float:
            asked = time.time()
            wait = super().reserve(interval)
            with lock:
                slots.append(asked + max(wait, 0.0))
            return wait

    def work() -> None:
        limiter = SlotLimiter(Recording(engine, "test-slots"), 10)
        for _ in range(12):
            limiter.acquire()
            with lock:
                sent.append(time.time())

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(slots)
    assert len(ordered) == 24
    # Evenly spaced, a tenth of a second apart whoever asked: at most ten in any second
    # however it is placed (not only per second of the clock).
    gaps = [later - earlier for earlier, later in pairwise(ordered)]
    assert min(gaps) >= 0.1 - 0.005, gaps
    assert sliding_peak(sent, 0.9) <= 10
    assert max(sent) - min(sent) >= 2.2  # 24 at ten a second take 2.3 s


def test_an_update_google_refuses_is_parked_visible_and_can_be_retried(google: Google) -> None:
    program = make_program(google.api)
    wait_for(lambda: google.standin.classes)
    google.standin.fail_next(1, 400, body={"error": {
        "code": 400, "message": "Invalid resource field value", "status": "INVALID_ARGUMENT",
        "errors": [{"reason": "invalidResource", "message": "bad"}]}})
    card = enroll(google.api, program, "olena@example.com")

    def state(status: str) -> Any:
        found = google.api.get(f"/api/v1/cards/{card['id']}/deliveries").get_json()["google"]
        return found if found is not None and found["status"] == status else None

    parked = wait_for(lambda: state("failed"))
    assert parked["inserted"] is False and "400" in parked["last_error"]
    assert google.object_id(card) not in google.standin.objects
    retried = google.api.post(f"/api/v1/cards/{card['id']}/deliveries/retry")
    assert retried.get_json() == {"requeued": 1}
    wait_for(lambda: google.object_id(card) in google.standin.objects)
    assert wait_for(lambda: state("synced"))["inserted"] is True


def test_a_fourth_notifying_offer_in_a_day_is_sent_silently_and_offers_show_as_modules(
        google: Google) -> None:
    program = make_program(google.api)
    response = google.api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Olena", "email": "olena@example.com", "marketing_consent": True})
    card = response.get_json()
    object_id = google.object_id(card)
    wait_for(lambda: object_id in google.standin.objects)
    google.saved(object_id)
    titles = ["Free croissant", "Two for one", "Happy hour", "Tasting night"]
    for number, title in enumerate(titles, start=1):
        offer = google.api.post(f"/api/v1/programs/{program['id']}/offers",
                                {"title": title, "body": f"Offer {number}"}).get_json()
        assert google.api.post(f"/api/v1/offers/{offer['id']}/publish").get_json() == {
            "cards": 1, "status": "published"}

        def arrived(number: int = number) -> bool:
            return len(google.standin.messages(object_id)) >= number

        wait_for(arrived)
    messages = google.standin.messages(object_id)
    assert [m["header"] for m in messages] == titles
    assert [m["messageType"] for m in messages] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]

    def recorded() -> list[tuple[str, bool, bool]]:
        state = google.api.get(f"/api/v1/cards/{card['id']}/deliveries").get_json()["google"]
        return [(m["kind"], m["notified"], m["budget_spent"]) for m in state["messages"]
                if m["status"] == "sent"]

    assert wait_for(lambda: len(recorded()) == 4 and recorded()) == [
        ("offer", True, False)] * 3 + [("offer", False, True)]

    def modules() -> list[str]:
        stored = google.standin.objects[object_id].get("textModulesData", [])
        return [module.get("header") for module in stored]

    # The object shows the newest three offers, replaced whole on each patch.
    wait_for(lambda: modules() == ["Tasting night", "Happy hour", "Two for one"])


def test_an_offer_reaches_google_only_on_the_objects_customers_keep_saved(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    program = make_program(google.api)
    kept, never, removed = (enroll(google.api, program, f"{name}@example.com")
                            for name in ("kept", "never", "removed"))
    _drain(push, google_loop)
    ids = {name: google.object_id(card) for name, card in
           (("kept", kept), ("never", never), ("removed", removed))}
    assert all(object_id in google.standin.objects for object_id in ids.values())
    google.saved(ids["kept"])
    google.saved(ids["removed"])
    google.saved(ids["removed"], "del")
    _drain(push, google_loop)
    before = len(google.standin.requests)
    offer = google.api.post(f"/api/v1/programs/{program['id']}/offers",
                            {"title": "Free croissant", "body": "With any coffee",
                             "promotional": False}).get_json()
    assert google.api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()["cards"] == 3
    _drain(push, google_loop)
    sent = [(request.method, request.path) for request in google.standin.requests[before:]
            if request.path.startswith("/loyalty")]
    # One patch with the offer on the pass, one notifying message: for the saved object
    # only; the others' holders see nothing in Google Wallet, so nothing is sent for them.
    assert sorted(sent) == [("PATCH", f"/loyaltyObject/{ids['kept']}"),
                            ("POST", f"/loyaltyObject/{ids['kept']}/addMessage")]
    assert [m["header"] for m in google.standin.messages(ids["kept"])] == ["Free croissant"]
    assert google.standin.messages(ids["never"]) == []
    with google.app.extensions["loyalpass"].sessions() as session:
        queued = session.scalars(select(GoogleMessage.card_id)).all()
    assert queued == [kept["id"]]


def test_an_object_saved_after_an_offer_is_brought_up_to_date_when_saved(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    program = make_program(google.api)
    card = enroll(google.api, program, "later@example.com")
    _drain(push, google_loop)
    object_id = google.object_id(card)
    offer = google.api.post(f"/api/v1/programs/{program['id']}/offers",
                            {"title": "Free croissant", "body": "With any coffee",
                             "promotional": False}).get_json()
    google.api.post(f"/api/v1/offers/{offer['id']}/publish")
    _drain(push, google_loop)
    assert google.patches(card) == []  # nobody held it: nothing sent
    google.saved(object_id)
    _drain(push, google_loop)
    [patch] = google.patches(card)
    assert [module.get("header") for module in patch.get("textModulesData", [])] == [
        "Free croissant"]
    assert google.standin.messages(object_id) == []  # no notification for an old offer


TIERS = [{"name": "Bronze", "min_spend": 0, "earn_percent": 2},
         {"name": "Silver", "min_spend": 10_000, "earn_percent": 2}]


def _objects_asked(google: Google, since: int) -> list[tuple[str, str]]:
    """The requests about objects (patches, inserts, messages) Google got after the
    ``since``-th request."""
    return [(request.method, request.path) for request in google.standin.requests[since:]
            if request.path.startswith("/loyaltyObject")]


def _queued_messages(google: Google) -> list[int]:
    with google.app.extensions["loyalpass"].sessions() as session:
        return list(session.scalars(select(GoogleMessage.card_id)).all())


def test_a_purchase_an_upgrade_and_a_new_design_send_a_never_saved_object_nothing(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    program, card, object_id = _tiered_card(google, "never@example.com", push, google_loop)
    assert object_id in google.standin.objects  # inserted: its save link works
    before = len(google.standin.requests)
    assert google.purchase(card, 10_000)["tier"] == "Silver"
    assert google.purchase(card, 5_000)["balance"] == 3
    assert google.api.patch(f"/api/v1/programs/{program['id']}",
                            {"name": "Kava Club Gold"}).status_code == 200
    _drain(push, google_loop)
    # The class (shared by every card) has the new name; the object nobody holds got
    # no patch and no message, and Google still has it as it was inserted.
    assert _objects_asked(google, before) == []
    assert google.standin.classes[f"{ISSUER}.loyalpass-program-{program['id']}"][
        "programName"] == "Kava Club Gold"
    assert google.standin.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 0}
    assert _queued_messages(google) == []
    assert newest_version_in(google, card)  # and nothing waits to be sent


def test_a_card_saved_after_purchases_shows_its_current_balance_and_tier_at_google(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    _program, card, object_id = _tiered_card(google, "later@example.com", push, google_loop)
    assert google.purchase(card, 10_000)["tier"] == "Silver"
    assert google.purchase(card, 5_000)["balance"] == 3
    _drain(push, google_loop)
    before = len(google.standin.requests)
    google.saved(object_id)
    _drain(push, google_loop)
    # One patch, with what the card shows now; the upgrade it missed is not announced.
    assert _objects_asked(google, before) == [("PATCH", f"/loyaltyObject/{object_id}")]
    stored = google.standin.objects[object_id]
    assert stored["loyaltyPoints"]["balance"] == {"int": 3}
    assert stored["secondaryLoyaltyPoints"]["balance"] == {"string": "Silver"}
    assert google.standin.messages(object_id) == []
    google.purchase(card, 50_000)
    _drain(push, google_loop)
    assert google.standin.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 13}


def test_a_removed_object_gets_no_more_updates_and_again_after_it_is_saved_anew(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    _program, card, object_id = _tiered_card(google, "gone@example.com", push, google_loop)
    google.saved(object_id)
    _drain(push, google_loop)
    google.saved(object_id, "del")
    before = len(google.standin.requests)
    assert google.purchase(card, 10_000)["tier"] == "Silver"
    _drain(push, google_loop)
    assert _objects_asked(google, before) == []  # removed: nothing, not even the upgrade
    assert _queued_messages(google) == []
    google.saved(object_id)
    _drain(push, google_loop)
    assert _objects_asked(google, before) == [("PATCH", f"/loyaltyObject/{object_id}")]
    assert google.standin.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 2}
    google.purchase(card, 5_000)
    _drain(push, google_loop)
    assert google.standin.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 3}


def test_an_object_removed_before_its_update_went_out_gets_neither_the_patch_nor_the_message(
        google_manual: Google) -> None:
    google = google_manual
    push, google_loop = _manual_loops(google)
    _program, card, object_id = _tiered_card(google, "quick@example.com", push, google_loop)
    google.saved(object_id)
    _drain(push, google_loop)
    assert google.purchase(card, 10_000)["tier"] == "Silver"
    push.run_once()  # the fan-out queues the patch and the upgrade's message
    assert _queued_messages(google) == [card["id"]]
    before = len(google.standin.requests)
    google.saved(object_id, "del")  # removed before the Google worker's turn
    _drain(push, google_loop)
    assert _objects_asked(google, before) == []
    assert _queued_messages(google) == []
    assert google.api.get(f"/api/v1/cards/{card['id']}/deliveries").get_json()["google"][
        "pending"] is False


def test_changing_a_program_updates_its_class_under_review_again(google: Google) -> None:
    program = make_program(google.api)
    class_id = f"{ISSUER}.loyalpass-program-{program['id']}"
    wait_for(lambda: class_id in google.standin.classes)
    google.standin.classes[class_id]["reviewStatus"] = "APPROVED"  # as Google would, later
    assert google.api.patch(f"/api/v1/programs/{program['id']}",
                            {"name": "Kava Club Gold"}).status_code == 200
    wait_for(lambda: google.standin.classes[class_id]["programName"] == "Kava Club Gold")
    assert google.standin.classes[class_id]["reviewStatus"] == "UNDER_REVIEW"
    assert len(google.standin.requests_to("POST", "/loyaltyClass")) == 2  # the 409 included
    assert google.standin.requests_to("PATCH", f"/loyaltyClass/{class_id}")


def test_the_google_request_budget_is_configured_and_a_bad_one_stops_the_start(
    tmp_path: Path,
) -> None:
    base = {"LOYALPASS_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    assert Config.from_env(base).google_requests_per_second == GOOGLE_REQUESTS_PER_SECOND
    raised = Config.from_env({**base, "LOYALPASS_GOOGLE_REQUESTS_PER_SECOND": "45"})
    assert raised.google_requests_per_second == 45.0
    limiter = make_limiter(raised.with_changes(database_url="sqlite://"),
                           make_engine("sqlite://"))
    assert limiter.rate_per_second == 45.0  # type: ignore[attr-defined]
    for wrong in ("fast", "0", "-3", "1e9"):
        with pytest.raises(ConfigError, match="LOYALPASS_GOOGLE_REQUESTS_PER_SECOND"):
            Config.from_env({**base, "LOYALPASS_GOOGLE_REQUESTS_PER_SECOND": wrong})


def test_erasing_the_holders_data_clears_their_name_at_google(google: Google) -> None:
    program = make_program(google.api)
    card = enroll(google.api, program, "olena@example.com")
    object_id = google.object_id(card)
    wait_for(lambda: object_id in google.standin.objects)
    google.saved(object_id)
    assert google.standin.objects[object_id]["accountName"] == "Олена Коваленко"

    with google.app.extensions["loyalpass"].sessions() as session:
        delete_data(session, card_id=card["id"], who=Who.customer())

    wait_for(lambda: google.standin.objects[object_id].get("state") == "INACTIVE")
    stored = google.standin.objects[object_id]
    assert stored["accountName"] == ""
    assert "Олена" not in json.dumps(stored, ensure_ascii=False)
