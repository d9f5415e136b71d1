"""A returning customer at the join form: a stranger who types their email or phone sees
nothing of the card and changes nothing; the owner gets a one-time link by mail (from a
real SMTP server on loopback, over STARTTLS with a login) that opens the card once,
within 30 minutes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import recovery
from app.cards.models import Card, CardRecoveryLink, Customer
from app.cards.schemas import EnrolmentInput
from app.clock import utcnow
from app.config import Config
from app.delivery.mail import LINK_GONE
from app.errors import Gone
from app.merchants.models import Program
from app.outbox.models import Mail
from tests.apns_standin import Certificates, write_test_certificates
from tests.conftest import Api, count_rows
from tests.push_helpers import wait_for
from tests.smtp_standin import SmtpStandIn
from tests.test_pos_api import buy

USER, PASSWORD = "loyalpass", "p@ss:w/rd %"  # percent-encoded in the URL


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return write_test_certificates(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def mail_server(smtp_tls: Certificates) -> Iterator[SmtpStandIn]:
    with SmtpStandIn(tls=(smtp_tls.server_certificate, smtp_tls.server_key),
                     login=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture
def config(config: Config, mail_server: SmtpStandIn, smtp_tls: Certificates) -> Config:
    url = (f"smtp://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:"
           f"{mail_server.port}?starttls=1&timeout=5")
    return config.with_changes(smtp_url=url, smtp_ca_file=smtp_tls.server_ca,
                               worker="inline", worker_poll_interval=0.2)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def join(client: FlaskClient, slug: str, lang: str = "en", **fields: str) -> Any:
    path = f"/join/{slug}?lang={lang}"
    return client.post(path, data={"csrf": csrf(client.get(path).text), **fields})


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every customer and card as they stand, to show that nothing changed."""
    session.rollback()
    customers = session.execute(select(
        Customer.id, Customer.name, Customer.email, Customer.phone, Customer.locale,
        Customer.marketing_consent, Customer.consent_at).order_by(Customer.id)).all()
    cards = session.execute(select(
        Card.id, Card.customer_id, Card.program_id, Card.balance, Card.link_version,
        Card.authentication_token, Card.pass_version).order_by(Card.id)).all()
    session.rollback()
    return {"customers": [tuple(row) for row in customers],
            "cards": [tuple(row) for row in cards]}


def assert_reveals_nothing(response: Any, card: dict[str, Any]) -> None:
    """Neither the page nor a header names the card, its links, balance or holder."""
    secrets = [card["number"], card["serial_number"], card["barcode"]["message"],
               card["card_url"].rsplit("/", 1)[1], card["customer"]["name"],
               *[value for value in (card["customer"]["email"], card["customer"]["phone"])
                 if value]]
    headers = " ".join(f"{name}: {value}" for name, value in response.headers.items())
    for secret in secrets:
        assert secret not in response.text and secret not in headers, secret
    for marker in ("/c/", ".pkpass", 'id="balance"', 'id="number"', "@"):
        assert marker not in response.text, marker
    assert "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def link_path(mail_server: SmtpStandIn, index: int = 0) -> str:
    return urlsplit(mail_server.links()[index]).path


def test_a_second_join_with_a_known_email_shows_nothing_of_the_card_and_changes_nothing(
    client: FlaskClient, api: Api, program: dict[str, Any], card: dict[str, Any],
    session: Session,
) -> None:
    assert buy(api, card, 617_300).status_code == 201
    shown = api.get(f"/api/v1/cards/{card['id']}").get_json()
    assert shown["balance"] == 123
    before = snapshot(session)
    response = join(client, program["slug"], name="Eve Stranger", email="OLENA@example.com",
                    consent="yes")
    assert response.status_code == 200
    assert "Check your mail" in response.text
    assert_reveals_nothing(response, shown)
    assert "123" not in response.text
    assert snapshot(session) == before


def test_a_join_with_a_known_phone_under_another_name_points_to_the_counter_and_changes_nothing(
    client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
) -> None:
    first = join(client, program["slug"], name="Марія", phone="+380671234567")
    assert first.status_code == 303
    card_id = session.scalar(select(Card.id))
    session.rollback()
    card = api.get(f"/api/v1/cards/{card_id}").get_json()
    before = snapshot(session)
    response = join(client, program["slug"], lang="uk", name="Єва", phone="+380 67 123 45 67",
                    consent="yes")
    assert response.status_code == 200
    assert "Зверніться до каси" in response.text
    assert_reveals_nothing(response, card)
    assert snapshot(session) == before
    assert count_rows(session, CardRecoveryLink) == 0 and count_rows(session, Mail) == 0


def test_the_owner_gets_a_one_time_link_by_mail_that_opens_the_card_once(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    response = join(client, program["slug"], lang="uk", name="Хтось", email="olena@example.com")
    assert "Перевірте пошту" in response.text
    wait_for(lambda: len(mail_server.mails()) == 1)
    mail = mail_server.mails()[0]
    assert mail["To"] == "olena@example.com"
    assert mail["Subject"] == "Ваша картка · Kava Club"
    assert mail_server.authenticated == [True]  # after STARTTLS, with the decoded password
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "30 хвилин" in body and "один раз" in body and "не запитували" in body
    assert card["number"] not in body
    path = link_path(mail_server)
    for _ in range(2):  # a mail scanner's GET uses nothing up
        confirm = client.get(path)
        assert confirm.status_code == 200 and 'id="open-card"' in confirm.text
        assert confirm.headers["Cache-Control"] == "no-store"
        assert card["number"] not in confirm.text
    opened = client.post(path, data={"csrf": csrf(confirm.text)})
    assert opened.status_code == 303
    card_page = client.get(opened.headers["Location"])
    number = card["number"]  # grouped on the page, as it is read aloud
    assert f'id="number">{number[:4]} {number[4:8]} {number[8:]}<' in card_page.text
    assert card_page.headers["Cache-Control"] == "no-store"
    again = client.post(path, data={"csrf": csrf(confirm.text)})
    assert again.status_code == 410
    assert "Це посилання вже використано." in again.text
    assert f'href="/join/{program["slug"]}?lang=uk"' in again.text
    assert again.headers["Cache-Control"] == "no-store"
    assert client.get(path).status_code == 410
    assert count_rows(session, Card) == 1


def _program(session: Session, program: dict[str, Any]) -> Program:
    value = session.get(Program, program["id"])
    assert value is not None
    return value


def test_an_expired_link_is_refused_and_its_mail_is_never_sent(
    client: FlaskClient, app: Flask, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    long_ago = utcnow() - timedelta(minutes=31)
    joined = recovery.join(session, program=_program(session, program),
                           data=EnrolmentInput(name="Olena", email="olena@example.com"),
                           now=long_ago)
    assert joined.reply is recovery.Reply.LINK_MAILED
    link_id = session.scalar(select(CardRecoveryLink.id))
    session.rollback()
    assert link_id is not None
    path = urlsplit(app.extensions["loyalpass"].wallet.recovery_url(link_id)).path
    page = client.get(f"{path}?lang=en")
    assert page.status_code == 410 and "This link has expired." in page.text
    assert "open the sign-up page again" in page.text
    refused = client.post(path, data={"csrf": csrf(client.get(f"/join/{program['slug']}").text)})
    assert refused.status_code == 410
    wait_for(lambda: _mail_status(session) == "failed")
    assert mail_server.mails() == []
    session.rollback()
    assert session.scalar(select(Mail.last_error)) == LINK_GONE


def _mail_status(session: Session) -> str | None:
    session.rollback()
    try:
        return session.scalar(select(Mail.status))
    finally:
        session.rollback()


@pytest.mark.parametrize("token", [
    "1.AAAAAAAAAAAAAAAAAAAAAAAA", "1", "abc.def", "01.x", "99999999999999999999.x", "-1.x",
])
def test_a_forged_or_unknown_link_is_404_in_the_browsers_language(
    client: FlaskClient, card: dict[str, Any], token: str,
) -> None:
    page = client.get(f"/r/{token}", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert page.status_code == 404
    assert "Эта ссылка недействительна." in page.text
    assert "QR-код на кассе" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.post(f"/r/{token}", data={"csrf": "x"}).status_code == 404


def test_a_card_link_or_another_links_mac_opens_no_recovery_link(
    client: FlaskClient, app: Flask, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn,
) -> None:
    join(client, program["slug"], email="olena@example.com", name="x")
    wait_for(lambda: len(mail_server.mails()) == 1)
    number, _, mac = link_path(mail_server).rsplit("/", 1)[1].partition(".")
    assert client.get(f"/r/{int(number) + 1}.{mac}").status_code == 404
    assert client.get(f"/r/{card['card_url'].rsplit('/', 1)[1]}").status_code == 404
    assert client.get(f"/r/{number}.{mac}").status_code == 200


def test_a_press_without_the_form_token_uses_nothing_up(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    join(client, program["slug"], email="olena@example.com", name="x")
    wait_for(lambda: len(mail_server.mails()) == 1)
    path = link_path(mail_server)
    refused = client.post(path, data={"csrf": "stale"})
    assert refused.status_code == 400 and 'id="open-card"' in refused.text
    assert card["number"] not in refused.text
    session.rollback()
    assert session.scalar(select(CardRecoveryLink.used_at)) is None
    session.rollback()
    assert client.post(path, data={"csrf": csrf(client.get(path).text)}).status_code == 303


def test_two_clicks_racing_on_one_link_open_the_card_once(
    app: Flask, program: dict[str, Any], card: dict[str, Any], session: Session,
) -> None:
    recovery.join(session, program=_program(session, program),
                  data=EnrolmentInput(name="Olena", email="olena@example.com"))
    link_id = session.scalar(select(CardRecoveryLink.id))
    session.rollback()
    assert link_id is not None
    sessions = app.extensions["loyalpass"].sessions
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def click() -> None:
        with sessions() as own:
            barrier.wait()
            try:
                outcomes.append(recovery.open_link(own, link_id=link_id).id)
            except Gone:
                outcomes.append(Gone)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes, key=str) == sorted([card["id"], Gone], key=str)


def test_a_customer_of_another_program_is_enrolled_only_when_they_open_the_mailed_link(
    client: FlaskClient, api: Api, card: dict[str, Any], mail_server: SmtpStandIn,
    session: Session,
) -> None:
    other = api.post("/api/v1/programs", {"name": "Kava Stamps", "kind": "stamps",
                                          "stamps_required": 6, "locales": ["en"]}).get_json()
    before = snapshot(session)
    response = join(client, other["slug"], name="Stranger", email="olena@example.com",
                    consent="yes")
    assert response.status_code == 200 and "Check your mail" in response.text
    assert_reveals_nothing(response, card)
    assert snapshot(session) == before
    wait_for(lambda: len(mail_server.mails()) == 1)
    assert mail_server.mails()[0]["Subject"] == "Your Kava Stamps card"
    path = link_path(mail_server)
    opened = client.post(path, data={"csrf": csrf(client.get(path).text)})
    assert opened.status_code == 303
    page = client.get(opened.headers["Location"])
    assert "Your Kava Stamps card" in page.text and 'id="stamps"' in page.text
    session.rollback()
    new_card = session.scalars(select(Card).where(Card.program_id == other["id"])).one()
    assert new_card.customer.email == "olena@example.com"
    assert new_card.customer.name == "Олена Коваленко"  # the owner's, not the form's
    assert new_card.customer.marketing_consent is False
    assert count_rows(session, Customer) == 1


def test_a_phone_only_customer_of_another_program_is_sent_to_the_counter(
    client: FlaskClient, api: Api, program: dict[str, Any], session: Session,
) -> None:
    assert join(client, program["slug"], name="Марія", phone="+380671234567").status_code == 303
    other = api.post("/api/v1/programs", {"name": "Kava Stamps", "kind": "stamps",
                                          "stamps_required": 6, "locales": ["en"]}).get_json()
    before = snapshot(session)
    response = join(client, other["slug"], name="Марія", phone="+380671234567")
    assert response.status_code == 200 and "Ask at the counter" in response.text
    assert snapshot(session) == before


def test_the_fourth_request_within_an_hour_sends_no_fourth_mail_and_reads_the_same(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any],
    mail_server: SmtpStandIn, session: Session,
) -> None:
    pages = [join(client, program["slug"], name="x", email="olena@example.com")
             for _ in range(4)]
    assert len({page.data for page in pages}) == 1
    assert {page.status_code for page in pages} == {200}
    wait_for(lambda: len(mail_server.mails()) == 3)
    wait_for(lambda: _mail_status(session) == "sent" and count_rows(session, Mail) == 3)
    assert count_rows(session, CardRecoveryLink) == 3
    assert len(mail_server.mails()) == 3


class TestOneClientAddress:
    @pytest.fixture
    def config(self, config: Config) -> Config:
        return config.with_changes(limit_recovery_mails="2/hour")

    def test_cannot_have_many_customers_mailed_and_its_pages_read_the_same(
        self, app: Flask, api: Api, program: dict[str, Any], mail_server: SmtpStandIn,
        session: Session,
    ) -> None:
        emails = [f"customer{n}@example.com" for n in range(3)]
        for email in emails:
            assert api.post(f"/api/v1/programs/{program['id']}/cards",
                            {"name": "Someone", "email": email}).status_code == 201
        stranger = app.test_client()
        stranger.environ_base["REMOTE_ADDR"] = "203.0.113.7"
        pages = [join(stranger, program["slug"], name="x", email=email) for email in emails]
        assert {page.status_code for page in pages} == {200}
        assert len({page.data for page in pages}) == 1
        wait_for(lambda: len(mail_server.mails()) == 2)
        assert count_rows(session, CardRecoveryLink) == 2  # the third made no link at all
        neighbour = app.test_client()
        neighbour.environ_base["REMOTE_ADDR"] = "203.0.113.8"
        join(neighbour, program["slug"], name="x", email=emails[2])
        wait_for(lambda: len(mail_server.mails()) == 3)
        assert count_rows(session, CardRecoveryLink) == 3


def test_a_new_customer_is_taken_straight_to_their_card_page_which_no_cache_keeps(
    client: FlaskClient, program: dict[str, Any], session: Session,
) -> None:
    response = join(client, program["slug"], name="Новий", email="new@example.com")
    assert response.status_code == 303 and "/c/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and 'id="number"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert count_rows(session, Card) == 1 and count_rows(session, Mail) == 0


def test_the_inline_and_the_external_worker_both_run_the_mail_loop(app: Flask) -> None:
    from app.delivery.mail import MailWorker
    from app.delivery.workers import make_workers

    runtime = app.extensions["loyalpass"]
    assert any(isinstance(loop, MailWorker) for loop in runtime.workers)  # inline
    external = make_workers(runtime, loops=2, name="external")
    assert sum(isinstance(loop, MailWorker) for loop in external) == 1
