"""A mail server for tests: aiosmtpd on 127.0.0.1, speaking real SMTP, with STARTTLS or
implicit TLS and a login when asked, recording every mail it accepts.

The test changes its answers while it runs: accept (the default), or refuse every
recipient with a reply such as ``451 4.3.0 Try again later`` (for now) or ``550 5.1.1
No such user`` (for good). ``SilentServer`` accepts connections and never says a word,
like a mail server that hangs.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Handler:
    def __init__(self, standin: SmtpStandIn) -> None:
        self.standin = standin

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self.standin.refusal
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content,
                                           policy=email.policy.default)
        with self.standin.lock:
            self.standin.received.append((list(envelope.rcpt_tos), message))
            self.standin.authenticated.append(bool(session.authenticated))
        return "250 Message accepted for delivery"


class SmtpStandIn:
    """``start()`` listens on ``port`` (a free one by default). ``tls`` is (certificate,
    key): with ``implicit_tls`` the connection is TLS from the start (smtps), else the
    server requires STARTTLS. ``login`` is (user, password): the server then requires it."""

    def __init__(self, *, port: int | None = None, tls: tuple[Path, Path] | None = None,
                 implicit_tls: bool = False, login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.authenticated: list[bool] = []  # per mail: did the client log in
        self.refusal: str | None = None
        self._login = login
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        options: dict[str, Any] = {}
        if context is not None and not implicit_tls:
            options.update(tls_context=context, require_starttls=True)
        if login is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
            if implicit_tls:
                # aiosmtpd counts only STARTTLS as TLS when it offers AUTH; this connection
                # is TLS from its first byte.
                options.update(auth_require_tls=False)
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port,
            ssl_context=context if implicit_tls else None, server_hostname="127.0.0.1",
            **options)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self._login is not None
              and auth_data.login.decode() == self._login[0]
              and auth_data.password.decode() == self._login[1])
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpStandIn:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def refuse(self, reply: str | None) -> None:
        """Answer every recipient with ``reply`` from now on (None: accept again)."""
        self.refusal = reply

    def mails(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, message in self.received]

    def links(self) -> list[str]:
        """The recovery links in the mails received, in order."""
        found = []
        for message in self.mails():
            body = message.get_body(("plain",))
            assert body is not None
            found += re.findall(r"https?://\S+/r/[0-9]+\.[A-Za-z0-9_-]+", body.get_content())
        return found


class SilentServer:
    """Accepts TCP connections on ``port`` and never answers (a hung mail server)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self.port))
        self._socket.listen(16)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._socket.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(2)
        for connection in self._held:
            connection.close()
        self._socket.close()
