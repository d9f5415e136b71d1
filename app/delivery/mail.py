"""The mail channel: sends the queued mails (``mails``) after commit and records what the
mail server said. A channel of its own, beside the push and Google loops.

Each round leases a few due mails (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
write lock serialises workers) for ``LEASE``, composes each from the database (a
recovery mail's link is built now from its row id: nothing usable is stored), ends the
transaction, sends the batch through the sender over one connection, and records each
answer. Retryable failures back off with jitter (``app.delivery.pushes.backoff``); after
``MAX_ATTEMPTS``, or at once when the server refused the mail for good, the mail is
parked as failed: logged, and shown in the card's deliveries until someone retries it.
A recovery mail whose link was used or expired before it could go is parked unsent.
A worker killed mid-send loses nothing: another worker frees its leases within seconds
(``app.delivery.presence``) and sends the mail (at least once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.cards.models import CardRecoveryLink
from app.clock import iso, utcnow
from app.config import Config
from app.delivery.loop import ChannelLoop
from app.delivery.presence import MAILS as LEASED_MAILS
from app.delivery.presence import Presence, guard, owned
from app.delivery.pushes import backoff
from app.delivery.staff_mail import compose_staff_mail, staff_link_open
from app.i18n import gettext, ngettext, using_locale
from app.integrations.mail import LoggingMailSender, MailResult, MailSender, SmtpSender
from app.logs import redact
from app.merchants.models import StaffLink
from app.metrics import MAIL_DELIVERIES, count_after_commit
from app.outbox.models import Mail
from app.texts import localized
from app.wallet.service import Wallet

log = logging.getLogger("loyalpass.mail")

MAILS = cast(Table, Mail.__table__)
LEASE = timedelta(minutes=5)  # a batch's connection, every step bounded by the timeout
# Backoff from 2 s doubling: the tenth attempt comes 9 to 17 minutes after the first,
# well inside a recovery link's 30 minutes.
MAX_ATTEMPTS = 10
LINK_GONE = "not sent: the link was used or expired before the mail could go"


@dataclass(frozen=True)
class Unsent:
    """A claimed mail that will not go (its link was used or expired first, or it cannot
    be written); it is parked with ``reason`` and no attempt counted."""

    reason: str


@dataclass(frozen=True)
class ClaimedMail:
    """A mail row this worker leased."""

    mail_id: int
    attempts: int


def claim_mails(session: Session, *, limit: int, now: datetime,
                owner: int | None = None) -> list[ClaimedMail]:
    """Lease up to ``limit`` due mails to the worker ``owner`` and commit the lease."""
    rows = session.execute(
        select(MAILS.c.id, MAILS.c.attempts)
        .where(MAILS.c.status == "pending", MAILS.c.available_at <= now,
               MAILS.c.leased_until.is_(None) | (MAILS.c.leased_until < now))
        .order_by(MAILS.c.available_at, MAILS.c.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(update(MAILS).where(MAILS.c.id.in_([row.id for row in rows]))
                        .values(leased_until=now + LEASE, leased_by=owner))
    session.commit()
    return [ClaimedMail(row.id, row.attempts) for row in rows]


def compose_recovery_mail(link: CardRecoveryLink, *, recipient: str, locale: str, url: str,
                          sender_address: str) -> EmailMessage:
    """The recovery mail in the customer's language: the program, the one-time link, that
    it works once and expires, and what to do if they did not ask for it."""
    program = link.program
    minutes = int((link.expires_at - link.created_at).total_seconds() // 60)
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = recipient
    name = localized(program.name_given, locale, program.locales)
    with using_locale(locale):
        subject = gettext("Your %(program)s card", program=name)
        body = ngettext(
            "Hello,\n\nsomeone, probably you, asked for your %(program)s card from "
            "%(merchant)s. Open this link to see it and add it to your wallet:\n\n"
            "%(url)s\n\nThe link works once and expires in %(num)d minute.\n\nIf you did "
            "not ask for this, ignore this mail: your card stays as it is.\n",
            "Hello,\n\nsomeone, probably you, asked for your %(program)s card from "
            "%(merchant)s. Open this link to see it and add it to your wallet:\n\n"
            "%(url)s\n\nThe link works once and expires in %(num)d minutes.\n\nIf you did "
            "not ask for this, ignore this mail: your card stays as it is.\n",
            minutes, program=name, merchant=program.merchant.name, url=url)
    message["Subject"] = subject
    stamp(message, sender_address)
    message.set_content(body)
    return message


def stamp(message: EmailMessage, sender_address: str) -> None:
    """The headers every mail of ours carries besides its own."""
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2].strip("<>[] "))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies


class MailSync:
    """One worker's mail stage; ``run_once`` sends what is due and says how much."""

    def __init__(self, *, sessions: sessionmaker[Session], sender: MailSender, wallet: Wallet,
                 sender_address: str, batch: int = 10,
                 presence: Presence | None = None) -> None:
        self.presence = presence
        self.sessions = sessions
        self.sender = sender
        self.wallet = wallet
        self.sender_address = sender_address
        self.batch = batch

    def run_once(self) -> int:
        with self.sessions() as session:
            now = utcnow()
            owner = self.presence.worker_id if self.presence is not None else None
            claimed = claim_mails(session, limit=self.batch, now=now, owner=owner)
            if not claimed:
                return 0
            with guard(self.presence, LEASED_MAILS, [row.mail_id for row in claimed],
                       owner) as ours:
                if ours():
                    self._send(session, claimed, now, owned(LEASED_MAILS, owner))
        return len(claimed)

    def _send(self, session: Session, claimed: list[ClaimedMail], now: datetime,
              ours: ColumnElement[bool]) -> None:
        composed = [(row, self._compose(session, row.mail_id, now)) for row in claimed]
        session.rollback()  # no transaction (on SQLite: no write lock) while it sends
        sendable = [(row, message) for row, message in composed
                    if isinstance(message, EmailMessage)]
        results = self.sender.send([message for _, message in sendable])
        for (row, _), result in zip(sendable, results, strict=True):
            _record(session, row, result, ours)
        for row, message in composed:
            if isinstance(message, Unsent):
                _park_unsent(session, row, message, ours)
        session.commit()

    def _compose(self, session: Session, mail_id: int, now: datetime
                 ) -> EmailMessage | Unsent:
        mail = session.get(Mail, mail_id)
        assert mail is not None
        if mail.staff_link_id is not None:
            return self._compose_staff(session, mail, now)
        link = session.get(CardRecoveryLink, mail.recovery_link_id or 0)
        if link is None or link.used_at is not None or link.expires_at <= now:
            return Unsent(LINK_GONE)
        try:
            return compose_recovery_mail(link, recipient=mail.recipient, locale=mail.locale,
                                         url=self.wallet.recovery_url(link.id),
                                         sender_address=self.sender_address)
        except ValueError as error:
            # A header the email package refuses (a line break in a name, say): this mail
            # can never be written, so it is parked rather than tried in every round.
            return Unsent(f"not sent: the mail could not be written: {error}"[:500])


    def _compose_staff(self, session: Session, mail: Mail, now: datetime
                       ) -> EmailMessage | Unsent:
        link = session.get(StaffLink, mail.staff_link_id)
        if link is None or not staff_link_open(link, now):
            return Unsent(LINK_GONE)
        try:
            message = compose_staff_mail(link, recipient=mail.recipient, locale=mail.locale,
                                         config=self.wallet.config,
                                         sender_address=self.sender_address)
        except ValueError as error:
            return Unsent(f"not sent: the mail could not be written: {error}"[:500])
        stamp(message, self.sender_address)
        return message


def _park_unsent(session: Session, row: ClaimedMail, unsent: Unsent,
                 ours: ColumnElement[bool]) -> None:
    session.execute(update(MAILS).where(MAILS.c.id == row.mail_id, ours).values(
        status="failed", leased_until=None, leased_by=None, last_error=unsent.reason))
    count_after_commit(session, MAIL_DELIVERIES, "unsent")
    log.warning("mail %d parked: %s", row.mail_id, redact(unsent.reason))


def _record(session: Session, row: ClaimedMail, result: MailResult,
            ours: ColumnElement[bool]) -> None:
    """What the server said about a mail that was sent to it (while still this worker's
    lease: see ``app.delivery.presence``)."""
    now = utcnow()
    attempts = row.attempts + 1
    if result.outcome == "sent":
        session.execute(update(MAILS).where(MAILS.c.id == row.mail_id, ours).values(
            status="sent", sent_at=now, attempts=attempts, leased_until=None,
            leased_by=None, last_error=None))
        count_after_commit(session, MAIL_DELIVERIES, "sent")
        log.info("mail %d sent", row.mail_id)
        return
    parked = result.outcome == "rejected" or attempts >= MAX_ATTEMPTS
    session.execute(update(MAILS).where(MAILS.c.id == row.mail_id, ours).values(
        status="failed" if parked else "pending", attempts=attempts, leased_until=None,
        leased_by=None,
        available_at=now + timedelta(seconds=backoff(attempts)),
        last_error=(result.reason or result.outcome)[:500]))
    count_after_commit(session, MAIL_DELIVERIES, "failed" if parked else "retry")
    if parked:
        log.error("mail %d parked as failed after %d attempts: %s", row.mail_id, attempts,
                  redact(result.reason or result.outcome))
    else:
        log.warning("mail %d not sent (attempt %d), trying again later: %s", row.mail_id,
                    attempts, redact(result.reason or result.outcome))


class MailWorker(ChannelLoop[MailSync]):
    """Sends the queued mails (see ``ChannelLoop``)."""

    @property
    def client(self) -> MailSender:
        return self.channel.sender


def card_mails(session: Session, *, customer_id: int, limit: int = 50
               ) -> list[dict[str, Any]]:
    """What became of the mails to a card's holder, newest first (for the merchant: no
    link, no address)."""
    rows = session.execute(
        select(Mail, CardRecoveryLink.program_id)
        .outerjoin(CardRecoveryLink, CardRecoveryLink.id == Mail.recovery_link_id)
        .where(Mail.customer_id == customer_id).order_by(Mail.id.desc()).limit(limit)
    ).all()
    return [{
        "id": mail.id,
        "kind": mail.kind,
        "program_id": program_id,
        "status": mail.status,
        "attempts": mail.attempts,
        "next_attempt_at": iso(mail.available_at) if mail.status == "pending" else None,
        "created_at": iso(mail.created_at),
        "sent_at": iso(mail.sent_at),
        "last_error": mail.last_error,
    } for mail, program_id in rows]


def retry_failed_mails(session: Session, *, customer_id: int) -> int:
    """Put the holder's parked mails back in the queue, now, while their links are still
    open (a link that expired is not worth a mail: the customer asks again); the caller
    commits. Returns how many."""
    now = utcnow()
    open_links = select(CardRecoveryLink.id).where(CardRecoveryLink.used_at.is_(None),
                                                   CardRecoveryLink.expires_at > now)
    result = session.execute(
        update(Mail).where(Mail.customer_id == customer_id, Mail.status == "failed",
                           Mail.recovery_link_id.in_(open_links))
        .values(status="pending", attempts=0, available_at=now, leased_until=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def make_mail_sender(config: Config) -> MailSender:
    """SMTP to the server LOYALPASS_SMTP_URL names, or the log when it is unset."""
    settings = config.smtp
    if settings is None:
        return LoggingMailSender(whole=config.development)
    return SmtpSender(host=settings.host, port=settings.port, security=settings.security,
                      username=settings.username, password=settings.password,
                      timeout=settings.timeout, ca_file=config.smtp_ca_file,
                      local_hostname=urlsplit(config.base_url).hostname)


def mail_status(config: Config) -> str:
    """One line for the start: where mails go."""
    settings = config.smtp
    if settings is None:
        return ("Mail: LOYALPASS_SMTP_URL is not set; mails are written to the log."
                if config.development else
                "Mail: LOYALPASS_SMTP_URL is not set; mails are not sent (the log says "
                "that one was not, without its recipient or links).")
    how = {"none": "plain", "starttls": "STARTTLS", "tls": "TLS"}[settings.security]
    login = f", as {settings.username}" if settings.username else ""
    return (f"Mail: SMTP to {settings.host}:{settings.port} ({how}{login}), "
            f"from {config.sender_address}.")
