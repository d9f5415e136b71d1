"""Google Wallet test helpers: service-account keys, a loopback-only network guard, and the
worker that the multi-process rate-limit test runs in each child process."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_EMAIL = "loyalpass@test-project.iam.gserviceaccount.com"


def make_service_account(token_uri: str, *, client_email: str = CLIENT_EMAIL,
                         project_id: str = "test-project"
                         ) -> tuple[dict[str, str], rsa.RSAPrivateKey]:
    """What Google's console hands out as a JSON key, with a fresh RSA 2048 key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    return info, private_key


def write_google_json(certs_dir: Path, info: Mapping[str, Any]) -> Path:
    certs_dir.mkdir(parents=True, exist_ok=True)
    path = certs_dir / "google.json"
    path.write_text(json.dumps(dict(info), indent=2))
    path.chmod(0o600)
    return path


class LoopbackGuard:
    """While active, name lookups and connections to anything but loopback fail, and each
    attempt is recorded: a test can then assert that nothing tried to reach the internet
    (google-auth's token and regional-access lookups included)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._lock = threading.Lock()

    def _refuse(self, target: str) -> OSError:
        with self._lock:
            self.attempts.append(target)
        return OSError(f"test network guard: {target} is not loopback")

    @contextlib.contextmanager
    def active(self) -> Iterator[LoopbackGuard]:
        original_lookup = socket.getaddrinfo
        original_connect = socket.socket.connect

        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_loopback(host):
                raise self._refuse(str(host))
            return original_lookup(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                raise self._refuse(str(address[0]))
            original_connect(sock, address)

        socket.getaddrinfo = lookup
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            socket.getaddrinfo = original_lookup
            socket.socket.connect = original_connect  # type: ignore[method-assign]


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True  # a passive lookup for a local bind
    if isinstance(host, bytes):
        host = host.decode()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rate_limited_calls(info: dict[str, str], api_url: str, ca_file: str, redis_url: str,
                       key: str, rate: float, calls: int, ready: Any, results: Any) -> None:
    """Run in a child process: a Google client on a Redis-shared limiter fetches its token,
    waits at the ``ready`` barrier for the other processes, then makes ``calls`` reads and
    puts the list of moments it sent them on ``results``."""
    from app.integrations.google import GoogleWalletClient
    from app.integrations.ratelimit import RedisLimiter

    with LoopbackGuard().active() as guard:
        limiter = RedisLimiter(redis_url, key, rate)
        client = GoogleWalletClient(info, api_url=api_url, limiter=limiter, ca_file=ca_file)
        client.get_object("3388000000000000000.warm-up")  # the token, outside the count
        ready.wait(30)
        sent = []
        for number in range(calls):
            result = client.get_object(f"3388000000000000000.object-{number}")
            if result.outcome != "not_found":
                raise AssertionError(result)
            sent.append(time.time())
        client.close()
        limiter.close()
        if guard.attempts:
            raise AssertionError(f"tried to reach {guard.attempts}")
    results.put(sent)
