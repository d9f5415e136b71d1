"""The Google Wallet client against a loopback stand-in that speaks Google's OAuth token
protocol and the Wallet REST API, and the rate limiters it waits on.

Every test runs behind a network guard: any name lookup or connection to a host that is not
loopback fails and fails the test, so google-auth can only ever talk to the stand-in.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app.integrations.fakes import FakeGoogleWallet
from app.integrations.google import GoogleWalletClient
from app.integrations.ratelimit import LocalLimiter, RedisLimiter, SlotLimiter
from tests.google_helpers import (
    LoopbackGuard,
    make_service_account,
    rate_limited_calls,
    write_google_json,
)
from tests.google_standin import GOOGLE_TOKEN_AUDIENCE, WALLET_SCOPE, GoogleStandIn

REDIS_URL = "redis://127.0.0.1:6379/0"
CLASS_ID = "3388000000022222222.loyalty-gold"
OBJECT_ID = "3388000000022222222.card-0001"
NOTIFY = {"header": "Points", "body": "You have 120 points", "messageType": "TEXT_AND_NOTIFY"}

MakeClient = Callable[..., GoogleWalletClient]


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[LoopbackGuard]:
    with LoopbackGuard().active() as guard:
        yield guard
    assert guard.attempts == [], f"a test tried to reach {guard.attempts}"


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[GoogleStandIn]:
    with GoogleStandIn(directory=tmp_path) as running:
        yield running


@pytest.fixture
def account(standin: GoogleStandIn) -> dict[str, str]:
    info, private_key = make_service_account(standin.token_uri)
    standin.register(info["client_email"], private_key.public_key())
    return info


@pytest.fixture
def make_client(standin: GoogleStandIn, account: dict[str, str]) -> Iterator[MakeClient]:
    clients: list[GoogleWalletClient] = []

    def make(**options: Any) -> GoogleWalletClient:
        info = options.pop("info", account)
        settings: dict[str, Any] = {"api_url": standin.api_url, "ca_file": standin.ca_file,
                                    "limiter": LocalLimiter(1000), "base_delay": 0.01}
        settings.update(options)
        client = GoogleWalletClient(info, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> GoogleWalletClient:
    return make_client()


def loyalty_class(**fields: Any) -> dict[str, Any]:
    return {"id": CLASS_ID, "issuerName": "Corner Coffee", "programName": "Beans",
            "reviewStatus": "UNDER_REVIEW", **fields}


def loyalty_object(**fields: Any) -> dict[str, Any]:
    return {"id": OBJECT_ID, "classId": CLASS_ID, "state": "ACTIVE",
            "loyaltyPoints": {"balance": {"int": 120}}, **fields}


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- authentication


def test_the_token_request_is_a_verified_assertion_sent_to_the_key_files_token_uri(
        standin: GoogleStandIn, account: dict[str, str], tmp_path: Path) -> None:
    key_file = write_google_json(tmp_path / "certs", account)
    client = GoogleWalletClient.from_file(key_file, api_url=standin.api_url,
                                          ca_file=standin.ca_file, limiter=LocalLimiter(1000))
    try:
        assert client.get_class(CLASS_ID).outcome == "not_found"
        assert client.get_object(OBJECT_ID).outcome == "not_found"
    finally:
        client.close()

    assert len(standin.requests_to("POST", "/token")) == 1  # one token serves both calls
    [claims] = standin.verified_assertions
    assert claims["iss"] == account["client_email"]
    assert claims["aud"] == GOOGLE_TOKEN_AUDIENCE  # google-auth's fixed audience
    assert WALLET_SCOPE in claims["scope"].split()
    for request in standin.requests_to("GET", "/loyalty"):
        assert request.headers["authorization"].startswith("Bearer ya29.standin-")


def test_a_token_signed_with_an_unregistered_key_is_refused_and_reported_as_permission(
        standin: GoogleStandIn, account: dict[str, str], make_client: MakeClient) -> None:
    impostor, _ = make_service_account(standin.token_uri, client_email=account["client_email"])

    result = make_client(info=impostor).get_class(CLASS_ID)

    assert result.outcome == "permission"
    assert result.status is None and "invalid_grant" in (result.reason or "")
    assert standin.refused_assertions == ["Invalid JWT Signature."]
    assert standin.requests_to("GET") == []  # the API never saw a request


def test_a_revoked_token_is_refreshed_and_the_request_sent_again(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    assert client.insert_class(loyalty_class()).ok
    standin.revoke_tokens()

    assert client.get_class(CLASS_ID).ok
    assert len(standin.requests_to("POST", "/token")) == 2
    assert [request.status for request in standin.requests_to("GET")] == [401, 200]


def test_google_auth_contacts_nothing_but_the_stand_in_after_a_token_refresh(
        standin: GoogleStandIn, client: GoogleWalletClient, loopback_only: LoopbackGuard
) -> None:
    assert client.get_class(CLASS_ID).outcome == "not_found"
    time.sleep(0.3)  # room for a background regional-access lookup, if one were started
    assert loopback_only.attempts == []
    assert {request.path for request in standin.requests} == {"/token",
                                                              f"/loyaltyClass/{CLASS_ID}"}


def test_google_auths_regional_access_lookup_switched_on_is_refused_on_the_machine(
        standin: GoogleStandIn, client: GoogleWalletClient, loopback_only: LoopbackGuard,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """google-auth (2.63) sends its regional-access-boundary lookup through the transport
    we give it for token requests, which refuses every origin but the token endpoint's; no
    private override of google-auth keeps it off. If a google-auth upgrade sends the lookup
    some other way, the network guard sees it; if it stops making it, the last assertion
    says so (and this test can go)."""
    monkeypatch.setenv(
        "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED", "true")
    refused = "refused to contact https://iamcredentials.googleapis.com"
    # google-auth stops its records at the "google" logger unless that is configured: listen
    # below it, where the lookup's failure is logged.
    google_auth_log = logging.getLogger("google.auth")
    google_auth_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="google.auth"):
            assert client.get_class(CLASS_ID).outcome == "not_found"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                    refused in record.getMessage() for record in caplog.records):
                time.sleep(0.02)  # the lookup runs in google-auth's background thread
            assert client.get_class(CLASS_ID).outcome == "not_found"  # and nothing got worse
    finally:
        google_auth_log.removeHandler(caplog.handler)

    assert loopback_only.attempts == []
    assert {request.path for request in standin.requests} == {"/token",
                                                              f"/loyaltyClass/{CLASS_ID}"}
    assert any(refused in record.getMessage() for record in caplog.records)


# -- classes and objects


def test_upsert_class_inserts_then_patches_an_existing_class_asking_for_review_again(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    assert client.upsert_class(loyalty_class()).ok
    result = client.upsert_class(loyalty_class(programName="Beans+", reviewStatus=None))

    assert result.ok and result.body is not None
    assert result.body["programName"] == "Beans+"
    assert [(r.method, r.status) for r in standin.requests_to("POST", "/loyaltyClass")] == [
        ("POST", 200), ("POST", 409)]
    [patch] = standin.requests_to("PATCH", "/loyaltyClass/")
    assert patch.path == f"/loyaltyClass/{CLASS_ID}"
    assert patch.body["reviewStatus"] == "UNDER_REVIEW"


def test_inserting_an_object_whose_class_does_not_exist_is_an_error(
        client: GoogleWalletClient) -> None:
    result = client.insert_object(loyalty_object())

    assert result.outcome == "not_found" and result.status == 404
    assert "not found" in (result.reason or "")


def test_inserting_an_object_that_exists_patches_it_instead(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    assert client.insert_object(loyalty_object()).ok

    result = client.insert_object(loyalty_object(loyaltyPoints={"balance": {"int": 150}}))

    assert result.ok
    assert standin.objects[OBJECT_ID]["loyaltyPoints"] == {"balance": {"int": 150}}
    assert len(standin.requests_to("PATCH", "/loyaltyObject/")) == 1


def test_patch_replaces_arrays_whole_and_null_removes_a_field(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    client.insert_object(loyalty_object(textModulesData=[{"id": "a"}, {"id": "b"}],
                                        secondaryLoyaltyPoints={"balance": {"int": 1}}))

    result = client.patch_object(OBJECT_ID, {"textModulesData": [{"id": "c"}],
                                             "secondaryLoyaltyPoints": None})

    assert result.ok and result.body is not None
    assert result.body["textModulesData"] == [{"id": "c"}]
    assert "secondaryLoyaltyPoints" not in standin.objects[OBJECT_ID]
    assert client.get_object(OBJECT_ID).body == result.body


def test_ids_are_quoted_in_paths(standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.get_object("3388.card/with space")
    [request] = standin.requests_to("GET")
    assert request.path == "/loyaltyObject/3388.card%2Fwith%20space"


# -- messages and 403s


def test_a_fourth_notifying_message_in_a_day_is_quota_told_apart_from_permission_by_body(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    client.insert_object(loyalty_object())

    outcomes = [client.add_message(OBJECT_ID, NOTIFY).outcome for _ in range(4)]
    quiet = client.add_message(OBJECT_ID, {"message": {**NOTIFY, "messageType": "TEXT"}})
    standin.deny_permission()
    denied = client.add_message(OBJECT_ID, NOTIFY)

    assert outcomes == ["ok", "ok", "ok", "quota"]
    assert quiet.ok  # a plain TEXT message does not count against the notification quota
    assert denied.outcome == "permission" and denied.status == 403
    assert len(standin.messages(OBJECT_ID)) == 4
    assert len(standin.requests_to("POST", f"/loyaltyObject/{OBJECT_ID}/addMessage")) == 6


def test_add_message_is_not_repeated_after_a_server_error_that_may_have_delivered_it(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    client.insert_object(loyalty_object())
    standin.fail_next(1, 503)

    result = client.add_message(OBJECT_ID, NOTIFY)

    assert result.outcome == "retry" and result.status == 503
    assert len(standin.requests_to("POST", f"/loyaltyObject/{OBJECT_ID}/addMessage")) == 1


# -- retries


def test_503_and_429_then_success_is_ok_after_retries(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    standin.fail_next(1, 503)
    standin.fail_next(1, 429)

    result = client.get_class(CLASS_ID)

    assert result.ok
    assert [r.status for r in standin.requests_to("GET")] == [503, 429, 200]


def test_a_429_with_retry_after_is_tried_again_no_sooner_than_asked(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    client.insert_class(loyalty_class())
    standin.fail_next(1, 429, retry_after=1)

    assert client.get_class(CLASS_ID).ok
    first, second = standin.requests_to("GET")
    assert second.time - first.time >= 0.9


def test_a_retry_after_longer_than_a_worker_should_block_is_handed_to_the_caller(
        standin: GoogleStandIn, client: GoogleWalletClient) -> None:
    standin.fail_next(1, 429, retry_after=120)
    started = time.monotonic()

    result = client.get_class(CLASS_ID)

    assert result.outcome == "retry" and result.retry_after == 120
    assert time.monotonic() - started < 2
    assert len(standin.requests_to("GET")) == 1


def test_a_persistent_503_is_retry_after_max_attempts(
        standin: GoogleStandIn, make_client: MakeClient) -> None:
    standin.fail_next(10, 503)

    result = make_client(max_attempts=3).get_class(CLASS_ID)

    assert result.outcome == "retry" and result.status == 503
    assert result.reason == "The service is currently unavailable."
    assert len(standin.requests_to("GET")) == 3


def test_a_refused_connection_to_the_api_is_retry_without_raising(
        make_client: MakeClient) -> None:
    client = make_client(api_url=f"https://127.0.0.1:{closed_port()}/walletobjects/v1")

    result = client.get_object(OBJECT_ID)

    assert result.outcome == "retry" and result.status is None
    assert "ConnectionError" in (result.reason or "")


def test_an_unreachable_token_endpoint_is_retry_without_raising(
        standin: GoogleStandIn, make_client: MakeClient) -> None:
    info, private_key = make_service_account(f"https://127.0.0.1:{closed_port()}/token")
    standin.register(info["client_email"], private_key.public_key())

    result = make_client(info=info).get_object(OBJECT_ID)

    assert result.outcome == "retry" and result.status is None
    assert standin.requests == []


def test_every_request_waits_on_the_limiter_first(
        standin: GoogleStandIn, make_client: MakeClient) -> None:
    class CountingLimiter:
        acquired = 0

        def acquire(self) -> None:
            self.acquired += 1

    limiter = CountingLimiter()
    client = make_client(limiter=limiter)
    standin.fail_next(1, 503)
    client.upsert_class(loyalty_class())
    client.upsert_class(loyalty_class())

    api_requests = [request for request in standin.requests if request.path != "/token"]
    assert limiter.acquired == len(api_requests) == 4  # 503 and its retry, 409 and its patch


# -- limiters


def test_local_limiter_keeps_requests_from_several_threads_within_its_rate(
        standin: GoogleStandIn, make_client: MakeClient) -> None:
    client = make_client(limiter=LocalLimiter(50))
    client.get_class(CLASS_ID)  # the token, outside the measurement
    started = time.monotonic()

    def fetch(thread: int) -> None:
        for number in range(10):
            client.get_object(f"3388.thread-{thread}-{number}")

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - started >= 0.55  # 30 requests at 50/s: 29 gaps of 20 ms
    arrivals = sorted(r.time for r in standin.requests_to("GET", "/loyaltyObject/"))
    assert len(arrivals) == 30
    # Any ten in a row were granted 9 × 20 ms apart; allow for delivery jitter.
    assert min(arrivals[i + 9] - arrivals[i] for i in range(21)) >= 0.1


def test_a_slot_limiter_whose_shared_storage_is_down_limits_this_process_alone() -> None:
    class BrokenCounter:
        tries = 0

        def reserve(self, interval: float) -> float:
            self.tries += 1
            raise ConnectionError("storage is down")

    fallback_calls = []

    class Fallback:
        def acquire(self) -> None:
            fallback_calls.append(1)

    counter = BrokenCounter()
    limiter = SlotLimiter(counter, 5, fallback=Fallback())
    limiter.acquire()
    limiter.acquire()

    assert len(fallback_calls) == 2
    assert counter.tries == 1  # not asked again at once: a timing-out store would stall us


def test_a_redis_limiter_without_a_reachable_server_still_limits_locally() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", "loyalpass:test", 20)
    started = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    limiter.close()

    assert 0.15 <= time.monotonic() - started < 2  # 20 a second, spaced by the fallback


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return f"Redis is not reachable at {REDIS_URL}: {error}"
    return None


def test_redis_limiter_keeps_two_processes_together_within_one_rate(
        standin: GoogleStandIn, account: dict[str, str]) -> None:
    problem = _redis_problem()
    if problem:
        pytest.skip(problem)
    rate, calls = 10, 15
    key = f"loyalpass:test:{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")  # separate interpreters, as real workers
    ready, results = context.Barrier(3), context.Queue()
    arguments = (account, standin.api_url, str(standin.ca_file), REDIS_URL, key, rate, calls,
                 ready, results)
    workers = [context.Process(target=rate_limited_calls, args=arguments) for _ in range(2)]
    for worker in workers:
        worker.start()
    ready.wait(60)
    sent = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0

    assert sum(len(moments) for moments in sent) == 2 * calls
    per_second = standin.requests_per_second("/loyaltyObject/3388000000000000000.object-")
    assert sum(per_second.values()) == 2 * calls
    # Windows follow Redis's clock; requests granted at the very end of a window may arrive
    # in the next second here, hence some slack (unlimited, all 30 would arrive at once).
    assert max(per_second.values()) <= rate + 3, per_second
    assert len(per_second) >= 3  # 30 requests at 10 a second need three windows


def test_redis_limiter_instances_sharing_a_key_share_the_rate() -> None:
    problem = _redis_problem()
    if problem:
        pytest.skip(problem)
    key = f"loyalpass:test:{uuid.uuid4().hex}"
    limiters = [RedisLimiter(REDIS_URL, key, 5) for _ in range(2)]
    moments: list[float] = []
    lock = threading.Lock()

    def take(limiter: RedisLimiter) -> None:
        for _ in range(6):
            limiter.acquire()
            with lock:
                moments.append(time.time())

    threads = [threading.Thread(target=take, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for limiter in limiters:
        limiter.close()

    counts: dict[int, int] = {}
    for moment in moments:
        counts[int(moment)] = counts.get(int(moment), 0) + 1
    assert max(counts.values()) <= 5 + 2, counts  # a grant at a window's end, seen after
    assert len(counts) >= 3  # 12 acquisitions at 5 a second span three windows


# -- the fake


def test_the_fake_google_wallet_records_calls_and_answers_like_google() -> None:
    wallet = FakeGoogleWallet()

    wallet.upsert_class(loyalty_class())
    wallet.upsert_class(loyalty_class(reviewStatus=None))
    missing_class = wallet.insert_object(loyalty_object(classId="3388.missing"))
    wallet.insert_object(loyalty_object())
    wallet.patch_object(OBJECT_ID, {"state": None, "textModulesData": [{"id": "x"}]})
    wallet.answer_next("quota")
    quota = wallet.add_message(OBJECT_ID, NOTIFY)
    sent = wallet.add_message(OBJECT_ID, NOTIFY)

    assert [call.method for call in wallet.calls] == [
        "insert_class", "insert_class", "patch_class", "insert_object", "insert_object",
        "patch_object", "add_message", "add_message"]
    assert (wallet.calls_to("patch_class")[0].body or {})["reviewStatus"] == "UNDER_REVIEW"
    assert missing_class.outcome == "not_found"
    assert "state" not in wallet.objects[OBJECT_ID]
    assert quota.outcome == "quota" and quota.status == 403
    assert sent.ok and wallet.messages[OBJECT_ID] == [NOTIFY]
