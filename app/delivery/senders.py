"""Which push sender a running Loyalpass uses.

Production: the APNs client on the pass certificate. Development on the self-signed
chain: Apple would refuse that certificate, so pushes are logged instead of sent (and
count as delivered), unless LOYALPASS_APNS_URL points somewhere else (a stand-in).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from app.config import Config
from app.integrations.apns import ApnsClient, PushResult, PushSender, SendWhile

log = logging.getLogger("loyalpass.push")
APPLE_ORIGIN = "https://api.push.apple.com"


class LoggingPushSender:
    """Development only: writes each push to the log instead of sending it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[tuple[str, str]] = []

    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        # Nothing leaves: ``send_while`` has nothing to stop.
        with self._lock:
            self.sent.extend((token, topic) for token in tokens)
        if tokens:  # how many, never the device tokens themselves
            log.info("development: would push %d devices (topic %s)", len(tokens), topic)
        return [PushResult(token=token, outcome="delivered", status=200, reason=None)
                for token in tokens]

    def close(self) -> None:
        pass


def make_sender(config: Config, *, development_chain: bool) -> PushSender:
    if development_chain and config.apns_url == APPLE_ORIGIN:
        return LoggingPushSender()
    password = config.pass_key_password.encode() if config.pass_key_password else None
    return ApnsClient(origin=config.apns_url, certificate_file=config.certs_dir / "pass.pem",
                      key_file=config.certs_dir / "pass.key", key_password=password,
                      ca_file=config.apns_ca_file)
