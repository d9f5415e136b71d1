"""Sending mail: a small interface, an SMTP sender on the standard library's ``smtplib``,
and a sender that writes each mail to the log (when ``LOYALPASS_SMTP_URL`` is unset).

Invariants, as for every integration: plain values in (``EmailMessage``), plain results
out, no database. A failure is classified in the result, never raised: ``sent``;
``retry`` when the server or the network may do better later (4xx replies, timeouts,
refused connections, a refused login: an operator can mend that); ``rejected`` when the
server refused this mail for good (a 5xx for it), so sending it again would be refused
again. One call sends a batch over one connection.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

log = logging.getLogger("loyalpass.mail")

Outcome = Literal["sent", "retry", "rejected"]
Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class MailResult:
    outcome: Outcome
    status: int | None = None  # the server's reply code, when it gave one
    reason: str | None = None


class MailSender(Protocol):
    def send(self, messages: Sequence[EmailMessage]) -> list[MailResult]:
        """One result per message, in order."""
        ...

    def close(self) -> None: ...


class LoggingMailSender:
    """Writes every mail to the log (``LOYALPASS_SMTP_URL`` unset). In development
    (``whole``) the mail as a person reads it, links live: trying the service out on one
    machine. Otherwise only that a mail went nowhere, and its subject: the recipient's
    address is personal data and the links in it are the keys to a card or an account,
    which a log must not hold."""

    def __init__(self, *, whole: bool = True) -> None:
        self._lock = threading.Lock()
        self.whole = whole
        self.sent: list[EmailMessage] = []

    def send(self, messages: Sequence[EmailMessage]) -> list[MailResult]:
        for message in messages:
            # A warning: it reached no mailbox, and it must show in a bare start's output.
            if self.whole:
                log.warning("mail not sent (LOYALPASS_SMTP_URL is not set); here it is:\n%s",
                            _readable(message))
            else:
                log.warning("mail not sent (LOYALPASS_SMTP_URL is not set): %r; its "
                            "recipient and links are not logged", str(message["Subject"]))
        with self._lock:
            self.sent.extend(messages)
        return [MailResult("sent") for _ in messages]

    def close(self) -> None:
        pass


class SmtpSender:
    """An SMTP client: plain, STARTTLS or implicit TLS, with an optional login; a fresh
    connection for each batch (mails are few), every step bounded by ``timeout``."""

    def __init__(self, *, host: str, port: int, security: Security = "none",
                 username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, ca_file: Path | None = None,
                 local_hostname: str | None = None) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout = timeout
        # Named, so that smtplib does not ask DNS for this machine's name (can be slow).
        self.local_hostname = local_hostname or "localhost"
        self._tls = ssl.create_default_context()
        if ca_file is not None:
            self._tls.load_verify_locations(cafile=ca_file)  # besides the system's trust

    def send(self, messages: Sequence[EmailMessage]) -> list[MailResult]:
        if not messages:
            return []
        try:
            connection = self._connect()
        except smtplib.SMTPAuthenticationError as error:
            log.error("the mail server at %s:%d refused the login (%s); mails will be "
                      "retried: check the user and password in LOYALPASS_SMTP_URL",
                      self.host, self.port, _smtp_error_text(error))
            return [_retry(error)] * len(messages)
        except (smtplib.SMTPException, OSError) as error:
            return [_retry(error)] * len(messages)
        try:
            return self._send_all(connection, messages)
        finally:
            with suppress(smtplib.SMTPException, OSError):
                connection.quit()
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname,
                timeout=self.timeout, context=self._tls)
        else:
            connection = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                      timeout=self.timeout)
        try:
            if self.security == "starttls":
                connection.starttls(context=self._tls)
            if self.username is not None:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        pass  # a connection lives for one batch only

    @staticmethod
    def _send_all(connection: smtplib.SMTP, messages: Sequence[EmailMessage]
                  ) -> list[MailResult]:
        results: list[MailResult] = []
        for index, message in enumerate(messages):
            try:
                connection.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError) as error:
                results.append(_refused(error))
                if connection.sock is None:
                    # smtplib closed the connection (the server said 421): the rest wait.
                    results += [_retry(error)] * (len(messages) - index - 1)
                    break
            except (smtplib.SMTPException, OSError) as error:
                # The connection is gone: this mail and the rest wait for the next round.
                results += [_retry(error)] * (len(messages) - index)
                break
            else:
                results.append(MailResult("sent", 250))
        return results


def _readable(message: EmailMessage) -> str:
    """The mail as a person reads it (headers decoded, the text part as text)."""
    body = message.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else message.as_string()
    headers = "\n".join(f"{name}: {message[name]}" for name in ("From", "To", "Subject")
                        if message[name] is not None)
    return f"{headers}\n\n{text}"


def _code(error: Exception) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return max(codes) if codes else None
    code = getattr(error, "smtp_code", None)
    return code if isinstance(code, int) else None


def _smtp_error_text(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = [f"{code} {text.decode(errors='replace')}"
                   for code, text in error.recipients.values()]
        return ("recipient refused: " + "; ".join(replies))[:500]
    text = getattr(error, "smtp_error", None)
    if isinstance(text, bytes):
        return f"{_code(error)} {text.decode(errors='replace')}"[:500]
    return (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:500]


def _retry(error: Exception) -> MailResult:
    return MailResult("retry", _code(error), _smtp_error_text(error))


def _refused(error: Exception) -> MailResult:
    code = _code(error)
    outcome: Outcome = "rejected" if code is not None and 500 <= code < 600 else "retry"
    return MailResult(outcome, code, _smtp_error_text(error))
