"""The APNs client against a stand-in APNs: a real HTTP/2 TLS server on loopback that
requires the pass certificate (tests/apns_standin.py)."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.integrations.apns import NOT_SENT_ANY_MORE, ApnsClient, Outcome, PushResult, classify
from app.integrations.fakes import FakePushSender
from tests.apns_fast_standin import FastApnsStandIn
from tests.apns_standin import (
    BAD_CERTIFICATE,
    BAD_DEVICE_TOKEN,
    OK,
    SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    UNREGISTERED,
    Answer,
    ApnsStandIn,
    Certificates,
    write_test_certificates,
)


def tokens(count: int, start: int = 0) -> list[str]:
    return [f"{number:064x}" for number in range(start, start + count)]


TOKEN = tokens(1, 7)[0]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return write_test_certificates(tmp_path_factory.mktemp("apns"))


def start_standin(certificates: Certificates, **options: Any) -> ApnsStandIn:
    return ApnsStandIn(certificate_file=certificates.server_certificate,
                       key_file=certificates.server_key,
                       client_ca_file=certificates.client_ca, **options).start()


def make_client(standin: ApnsStandIn | FastApnsStandIn, certificates: Certificates,
                **options: Any) -> ApnsClient:
    return ApnsClient(origin=standin.origin, certificate_file=certificates.client_certificate,
                      key_file=certificates.client_key, ca_file=certificates.server_ca,
                      **options)


@pytest.fixture
def standin(certificates: Certificates) -> Iterator[ApnsStandIn]:
    server = start_standin(certificates)
    yield server
    server.stop()


@pytest.fixture
def client(standin: ApnsStandIn, certificates: Certificates) -> Iterator[ApnsClient]:
    with make_client(standin, certificates) as apns:
        yield apns


def outcomes(results: list[PushResult]) -> list[Outcome]:
    return [result.outcome for result in results]


def test_a_delivered_push_carries_the_topic_an_empty_json_body_and_the_pass_certificate(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    assert client.push([TOKEN], topic=certificates.topic) == [
        PushResult(TOKEN, "delivered", 200, None)]
    (request,) = standin.requests
    assert (request.method, request.path) == ("POST", f"/3/device/{TOKEN}")
    assert request.authority == f"127.0.0.1:{standin.port}"
    assert request.headers["apns-topic"] == certificates.topic
    assert request.body == b"{}"
    assert "apns-push-type" not in request.headers  # Wallet's documented push: topic and {}
    assert f"UID={certificates.topic}" in request.client_subject


@pytest.mark.parametrize(("answer", "outcome"), [
    (UNREGISTERED, "unregistered"),
    (BAD_DEVICE_TOKEN, "bad_token"),
    (Answer(400, "DeviceTokenNotForTopic"), "bad_token"),
    (TOO_MANY_REQUESTS, "retry"),
    (SERVICE_UNAVAILABLE, "retry"),
    (Answer(500, "InternalServerError"), "retry"),
    (BAD_CERTIFICATE, "certificate"),
    (Answer(403, "BadCertificateEnvironment"), "certificate"),
    (Answer(413, "PayloadTooLarge"), "error"),
    (Answer(400, "BadExpirationDate"), "error"),
], ids=lambda value: f"{value.status}-{value.reason}" if isinstance(value, Answer) else value)
def test_each_apns_answer_is_classified_with_its_reason(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates,
        answer: Answer, outcome: Outcome) -> None:
    standin.answer(TOKEN, answer)
    other = tokens(1)[0]
    results = client.push([other, TOKEN], topic=certificates.topic)
    assert results == [PushResult(other, "delivered", 200, None),
                       PushResult(TOKEN, outcome, answer.status, answer.reason)]


def test_a_retry_after_header_reaches_the_result(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    standin.answer(TOKEN, Answer(429, "TooManyRequests", retry_after=30))
    (result,) = client.push([TOKEN], topic=certificates.topic)
    assert (result.outcome, result.retry_after) == ("retry", 30.0)


def test_a_refused_certificate_is_reported_loudly(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates,
        caplog: pytest.LogCaptureFixture) -> None:
    standin.answer(TOKEN, BAD_CERTIFICATE)
    with caplog.at_level(logging.ERROR, logger="app.integrations.apns"):
        client.push([TOKEN], topic=certificates.topic)
    assert any(record.levelno == logging.ERROR and "BadCertificate" in record.getMessage()
               for record in caplog.records)


def test_a_topic_the_server_does_not_accept_is_a_certificate_problem(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    standin.accept_topics(certificates.topic)
    results = client.push(tokens(2), topic="pass.example.someone-else")
    assert {(result.outcome, result.status, result.reason) for result in results} == {
        ("certificate", 400, "BadTopic")}


def test_failures_for_the_next_requests_or_for_a_while_become_retries_then_deliveries(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    standin.fail_next(3)
    first = client.push(tokens(5), topic=certificates.topic)
    assert outcomes(first) == ["retry"] * 3 + ["delivered"] * 2
    assert first[0].reason == "ServiceUnavailable"
    standin.fail_for(0.3, TOO_MANY_REQUESTS)
    assert set(outcomes(client.push(tokens(3), topic=certificates.topic))) == {"retry"}
    time.sleep(0.35)
    assert set(outcomes(client.push(tokens(3), topic=certificates.topic))) == {"delivered"}
    assert standin.connections_opened == 1


def test_one_connection_carries_thousands_of_pushes_in_order(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    batch = tokens(2000)
    results = client.push(batch, topic=certificates.topic)
    assert [result.token for result in results] == batch
    assert set(outcomes(results)) == {"delivered"}
    client.push(tokens(10, 5000), topic=certificates.topic)
    assert standin.connections_opened == 1
    assert len(standin.requests) == 2010


def test_the_benchmarks_fast_stand_in_answers_every_push_over_one_connection(
        certificates: Certificates) -> None:
    with FastApnsStandIn(certificate_file=certificates.server_certificate,
                         key_file=certificates.server_key,
                         client_ca_file=certificates.client_ca, max_concurrent_streams=50
                         ) as standin, make_client(standin, certificates) as apns:
        batch = tokens(3000)
        results = apns.push(batch, topic=certificates.topic)
        assert [result.token for result in results] == batch
        assert {(result.outcome, result.status) for result in results} == {("delivered", 200)}
        assert (standin.answered, standin.connections_opened) == (3000, 1)
        assert standin.protocol_errors == []


def test_the_client_never_opens_more_streams_than_the_server_allows(
        certificates: Certificates) -> None:
    standin = start_standin(certificates, max_concurrent_streams=10)
    standin.answer_delay = 0.002  # answers trickle back, so streams pile up to the limit
    try:
        with make_client(standin, certificates) as apns:
            results = apns.push(tokens(300), topic=certificates.topic)
        assert set(outcomes(results)) == {"delivered"}
        assert standin.max_streams_seen == 10
        assert standin.protocol_errors == []
    finally:
        standin.stop()


def test_a_batch_stops_at_the_first_push_its_sender_is_no_longer_sure_of(
        certificates: Certificates) -> None:
    standin = start_standin(certificates, max_concurrent_streams=10)
    standin.answer_delay = 0.05  # the batch goes over time, ten streams at once
    batch = tokens(50)
    sure = iter([True] * 23)  # e.g. the worker froze while its 24th push waited
    try:
        with make_client(standin, certificates) as apns:
            results = apns.push(batch, topic=certificates.topic,
                                send_while=lambda: next(sure, False))
            afterwards = apns.push(tokens(3, 100), topic=certificates.topic)
        assert [request.path for request in standin.requests[:23]] == [
            f"/3/device/{token}" for token in batch[:23]]
        assert len(standin.requests) == 23 + 3  # none of the rest left
        assert [result.token for result in results] == batch
        assert set(outcomes(results[:23])) == {"delivered"}
        assert {(result.outcome, result.status, result.reason) for result in results[23:]} == {
            ("unsent", None, NOT_SENT_ANY_MORE)}
        assert set(outcomes(afterwards)) == {"delivered"}  # the connection is as it was
        assert standin.connections_opened == 1
    finally:
        standin.stop()


def test_bodies_wait_for_the_servers_flow_control_window(certificates: Certificates) -> None:
    standin = start_standin(certificates, stream_window=0)
    try:
        with make_client(standin, certificates, timeout=5) as apns:
            results = apns.push(tokens(50), topic=certificates.topic)
        assert set(outcomes(results)) == {"delivered"}
        assert {request.body for request in standin.requests} == {b"{}"}
        assert standin.protocol_errors == []
    finally:
        standin.stop()


def test_pushes_from_several_threads_share_one_connection(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    batches = [tokens(100, start) for start in range(0, 800, 100)]
    answers: dict[int, list[PushResult]] = {}

    def push(number: int) -> None:
        answers[number] = client.push(batches[number], topic=certificates.topic)

    threads = [threading.Thread(target=push, args=(number,)) for number in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for number, batch in enumerate(batches):
        assert [result.token for result in answers[number]] == batch
        assert set(outcomes(answers[number])) == {"delivered"}
    assert standin.connections_opened == 1


def test_after_goaway_nothing_is_lost_and_the_next_batch_reconnects(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates,
        caplog: pytest.LogCaptureFixture) -> None:
    standin.go_away_after(50, reason="Shutdown")
    with caplog.at_level(logging.INFO, logger="app.integrations.apns"):
        first = client.push(tokens(200), topic=certificates.topic)
        # Streams up to last_stream_id are answered, the 50th after the GOAWAY itself.
        assert outcomes(first) == ["delivered"] * 50 + ["retry"] * 150
        assert "GOAWAY" in (first[50].reason or "") and "Shutdown" in (first[50].reason or "")
        again = client.push([result.token for result in first[50:]], topic=certificates.topic)
    assert set(outcomes(again)) == {"delivered"}
    assert standin.connections_opened == 2
    assert any("Reconnected to APNs" in record.getMessage() for record in caplog.records)


def test_a_dropped_connection_turns_unanswered_pushes_into_retries_and_the_next_batch_reconnects(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    standin.drop_after(30)
    first = client.push(tokens(100), topic=certificates.topic)
    assert set(outcomes(first)) <= {"delivered", "retry"}
    unanswered = [result for result in first if result.outcome == "retry"]
    assert len(unanswered) >= 71
    assert all(result.status is None and result.reason for result in unanswered)
    again = client.push([result.token for result in unanswered], topic=certificates.topic)
    assert set(outcomes(again)) == {"delivered"}
    assert standin.connections_opened == 2


def test_a_stream_without_an_answer_times_out_into_a_retry(
        standin: ApnsStandIn, certificates: Certificates) -> None:
    batch = tokens(10)
    standin.stay_silent(batch[3])
    with make_client(standin, certificates, timeout=0.5) as apns:
        started = time.monotonic()
        results = apns.push(batch, topic=certificates.topic)
        assert time.monotonic() - started < 3
        assert outcomes(results) == ["delivered"] * 3 + ["retry"] + ["delivered"] * 6
        assert "no answer" in (results[3].reason or "")
        standin.answer(batch[3], OK)
        assert outcomes(apns.push([batch[3]], topic=certificates.topic)) == ["delivered"]
    assert standin.connections_opened == 2


def test_a_client_certificate_the_server_refuses_gives_results_not_an_exception(
        standin: ApnsStandIn, certificates: Certificates, tmp_path: Path) -> None:
    stranger = write_test_certificates(tmp_path)  # a chain the stand-in does not trust
    with ApnsClient(origin=standin.origin, certificate_file=stranger.client_certificate,
                    key_file=stranger.client_key, ca_file=certificates.server_ca) as apns:
        results = apns.push(tokens(3), topic=certificates.topic)
    assert {result.outcome for result in results} <= {"retry", "certificate"}
    assert all(result.status is None and result.reason for result in results)
    assert standin.connections_opened == 0
    assert standin.requests == []


def test_the_stand_in_refuses_a_tls_handshake_without_a_client_certificate(
        standin: ApnsStandIn, certificates: Certificates) -> None:
    context = ssl.create_default_context(cafile=str(certificates.server_ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # so the refusal ends the handshake
    with socket.create_connection(("127.0.0.1", standin.port), timeout=5) as raw, \
            pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert standin.connections_opened == 0


def test_a_server_certificate_outside_our_trust_is_a_certificate_problem(
        standin: ApnsStandIn, certificates: Certificates) -> None:
    with ApnsClient(origin=standin.origin, certificate_file=certificates.client_certificate,
                    key_file=certificates.client_key) as apns:  # no ca_file: system trust
        (result,) = apns.push([TOKEN], topic=certificates.topic)
    assert result.outcome == "certificate"
    assert "CERTIFICATE_VERIFY_FAILED" in (result.reason or "")


def test_an_unreachable_server_gives_retry_results(certificates: Certificates) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ApnsClient(origin=f"https://127.0.0.1:{port}",
                    certificate_file=certificates.client_certificate,
                    key_file=certificates.client_key, timeout=2) as apns:
        results = apns.push(tokens(2), topic=certificates.topic)
    assert outcomes(results) == ["retry", "retry"]
    assert all(result.status is None and result.reason for result in results)


def test_a_malformed_token_is_a_bad_token_and_never_sent(
        client: ApnsClient, standin: ApnsStandIn, certificates: Certificates) -> None:
    results = client.push([TOKEN, "not/a token", TOKEN], topic=certificates.topic)
    assert outcomes(results) == ["delivered", "bad_token", "delivered"]
    assert [request.token for request in standin.requests] == [TOKEN, TOKEN]


def test_closing_the_client_answers_a_batch_in_flight_with_retries(
        standin: ApnsStandIn, certificates: Certificates) -> None:
    standin.stay_silent(TOKEN)
    apns = make_client(standin, certificates, timeout=30)
    answers: list[PushResult] = []
    pushing = threading.Thread(target=lambda: answers.extend(
        apns.push([TOKEN], topic=certificates.topic)))
    pushing.start()
    while not standin.requests:
        time.sleep(0.01)
    apns.close()
    pushing.join(5)
    assert outcomes(answers) == ["retry"]


def test_programming_errors_raise(client: ApnsClient, certificates: Certificates) -> None:
    assert client.push([], topic=certificates.topic) == []
    with pytest.raises(TypeError):
        client.push(TOKEN, topic=certificates.topic)
    with pytest.raises(TypeError):
        client.push([42], topic=certificates.topic)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="topic"):
        client.push([TOKEN], topic="")
    client.close()
    with pytest.raises(RuntimeError):
        client.push([TOKEN], topic=certificates.topic)


def test_an_unusable_certificate_or_origin_fails_at_construction(
        certificates: Certificates, tmp_path: Path) -> None:
    missing = tmp_path / "pass.pem"
    with pytest.raises(ValueError, match=r"pass\.pem"):
        ApnsClient(origin="https://api.push.apple.com", certificate_file=missing,
                   key_file=certificates.client_key)
    with pytest.raises(ValueError, match="origin"):
        ApnsClient(origin="http://api.push.apple.com/3", key_file=certificates.client_key,
                   certificate_file=certificates.client_certificate)


def test_classification_follows_apples_status_codes() -> None:
    assert classify(200, None) == "delivered"
    assert classify(410, "ExpiredToken") == "unregistered"
    assert classify(400, "BadTopic") == "certificate"
    assert classify(400, "MissingTopic") == "error"
    assert classify(404, "BadPath") == "error"
    assert classify(502, None) == "retry"


def test_the_fake_records_every_push_and_answers_from_its_table() -> None:
    fake = FakePushSender({"dead": "unregistered"})
    fake.answer("later", "retry")
    results = fake.push(["alive", "dead", "later", "alive"], topic="pass.example")
    assert outcomes(results) == ["delivered", "unregistered", "retry", "delivered"]
    assert results[1] == PushResult("dead", "unregistered", 410, "Unregistered")
    assert fake.sent == [("alive", "pass.example"), ("dead", "pass.example"),
                         ("later", "pass.example"), ("alive", "pass.example")]
    fake.close()
    with pytest.raises(RuntimeError):
        fake.push(["alive"], topic="pass.example")
