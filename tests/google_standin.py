"""A stand-in for Google's OAuth token endpoint and the Wallet REST API (loyalty classes and
objects): a real HTTPS server on 127.0.0.1, HTTP/1.1 with keep-alive, one thread per
connection.

The token endpoint takes the JWT-bearer grant google-auth sends, verifies the assertion's
RS256 signature with the registered service account's public key, and checks its issuer,
audience (Google's fixed token audience, or this token_uri), scope and expiry. The API
requires a token it issued and keeps classes and objects in memory with Google's rules:
insert is 409 when the id exists, an object needs its class, PATCH merges top-level fields
(arrays replaced whole, null deletes), and more than ``notify_limit`` TEXT_AND_NOTIFY
messages per object in 24 hours is a 403 quotaExceeded. Errors use Google's JSON error
shape. Every request is recorded with its arrival time; faults can be injected: given
answers, a delay before every answer (``answer_delay``), and connections closed after the
request was applied but before its answer was written (``drop_next``).
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
API_PATH = "/walletobjects/v1"
DAY = 86_400.0

Answer = tuple[int, Any, dict[str, str]]  # status, JSON document, extra headers


def google_error(status: int, message: str, reason: str, state: str) -> dict[str, Any]:
    """Google's JSON error body: code, message, errors[] with a reason, and status."""
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": state}}


PERMISSION_DENIED = google_error(403, "The caller does not have permission", "forbidden",
                                 "PERMISSION_DENIED")
_DEFAULT_ERRORS = {
    400: ("Request contains an invalid argument.", "badRequest", "INVALID_ARGUMENT"),
    401: ("Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"),
    404: ("Requested entity was not found.", "notFound", "NOT_FOUND"),
    429: ("Resource has been exhausted (e.g. check quota).", "rateLimitExceeded",
          "RESOURCE_EXHAUSTED"),
    500: ("Internal error encountered.", "backendError", "INTERNAL"),
    503: ("The service is currently unavailable.", "backendError", "UNAVAILABLE"),
}


def default_error(status: int) -> dict[str, Any]:
    if status == 403:
        return copy.deepcopy(PERMISSION_DENIED)
    message, reason, state = _DEFAULT_ERRORS.get(status, ("Error.", "unknown", "UNKNOWN"))
    return google_error(status, message, reason, state)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # below the API base ("/loyaltyObject/…"), or "/token"
    body: Any  # the JSON document, or the form fields of a token request
    headers: dict[str, str]
    time: float  # time.time() on arrival
    status: int  # what the stand-in answered


class GoogleStandIn:
    def __init__(self, service_accounts: dict[str, rsa.RSAPublicKey] | None = None, *,
                 notify_limit: int = 3, directory: Path | None = None) -> None:
        self.notify_limit = notify_limit
        self._accounts = dict(service_accounts or {})
        self._own_directory = directory is None
        self._directory = directory or Path(tempfile.mkdtemp(prefix="google-standin-"))
        self.ca_file = self._directory / "google-standin-ca.pem"
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._requests: list[RecordedRequest] = []
        self._failures: list[Answer] = []
        self._denied = False
        self._drops = 0
        self.answer_delay = 0.0  # seconds before each answer
        self.verified_assertions: list[dict[str, Any]] = []
        self.refused_assertions: list[str] = []
        self.classes: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self._notified: dict[str, list[float]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- running

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.origin + API_PATH

    @property
    def token_uri(self) -> str:
        return self.origin + "/token"

    def start(self) -> GoogleStandIn:
        certificate, key = write_server_certificate(self._directory, self.ca_file)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certificate, key)
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        server.socket = tls.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="google stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self._own_directory:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> GoogleStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- policy

    def register(self, client_email: str, public_key: rsa.RSAPublicKey) -> None:
        with self._lock:
            self._accounts[client_email] = public_key

    def fail_next(self, count: int, status: int, body: Any = None,
                  retry_after: float | None = None) -> None:
        """The next ``count`` API requests (after authentication) get this answer."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        answer = (status, body if body is not None else default_error(status), headers)
        with self._lock:
            self._failures.extend([answer] * count)

    def drop_next(self, count: int) -> None:
        """The next ``count`` API requests are applied, then their connections closed
        without an answer (the client cannot know whether they were)."""
        with self._lock:
            self._drops = count

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops <= 0:
                return False
            self._drops -= 1
            return True

    def deny_permission(self, denied: bool = True) -> None:
        """As when the service account is not a user of the issuer: every API call is 403."""
        with self._lock:
            self._denied = denied

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- observations

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_prefix: str = "/") -> list[RecordedRequest]:
        return [request for request in self.requests
                if request.method == method and request.path.startswith(path_prefix)]

    def requests_per_second(self, path_prefix: str = "/loyalty") -> dict[int, int]:
        """API requests that arrived in each whole second of wall-clock time."""
        return dict(Counter(int(request.time) for request in self.requests
                            if request.path.startswith(path_prefix)))

    def messages(self, object_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.objects.get(object_id, {}).get("messages", []))

    # -- answering (called from the connection threads)

    def _answer(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Answer:
        if path == "/token" and method == "POST":
            fields = {name: values[0] for name, values in parse_qs(raw.decode()).items()}
            answer = self._token(fields)
            self._record(method, path, fields, headers, answer[0])
            return answer
        body = json.loads(raw) if raw else None
        relative = path.removeprefix(API_PATH) if path.startswith(API_PATH + "/") else path
        with self._lock:
            answer = self._api(method, relative, body, headers)
        self._record(method, relative, body, headers, answer[0])
        return answer

    def _record(self, method: str, path: str, body: Any, headers: dict[str, str],
                status: int) -> None:
        request = RecordedRequest(method, path, body, headers, time.time(), status)
        with self._lock:
            self._requests.append(request)

    def _token(self, fields: dict[str, str]) -> Answer:
        claims, problem = None, "unsupported grant_type"
        if fields.get("grant_type") == JWT_BEARER:
            audiences = (GOOGLE_TOKEN_AUDIENCE, self.token_uri)
            with self._lock:
                claims, problem = verify_assertion(fields.get("assertion", ""), self._accounts,
                                                   audiences=audiences)
        if claims is None:
            with self._lock:
                self.refused_assertions.append(problem)
            return 400, {"error": "invalid_grant", "error_description": problem}, {}
        token = "ya29.standin-" + uuid.uuid4().hex
        with self._lock:
            self.verified_assertions.append(claims)
            self._tokens[token] = claims["iss"]
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {}

    def _api(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return 401, default_error(401), {"WWW-Authenticate": "Bearer"}
        if self._denied:
            return 403, copy.deepcopy(PERMISSION_DENIED), {}
        if self._failures:
            return self._failures.pop(0)
        parts = [unquote(part) for part in path.strip("/").split("/")]
        kind = {"loyaltyClass": self.classes, "loyaltyObject": self.objects}.get(parts[0])
        if kind is None or len(parts) > 3 or (len(parts) == 3 and parts[2] != "addMessage"):
            return 404, default_error(404), {}
        if len(parts) == 1 and method == "POST":
            return self._insert(kind, body, is_object=kind is self.objects)
        if len(parts) == 2 and method in ("GET", "PATCH"):
            if parts[1] not in kind:
                return 404, _not_found(parts[0], parts[1]), {}
            if method == "PATCH":
                _merge(kind[parts[1]], body or {})
            return 200, copy.deepcopy(kind[parts[1]]), {}
        if len(parts) == 3 and method == "POST" and kind is self.objects:
            return self._add_message(parts[1], body)
        return 404, default_error(404), {}

    def _insert(self, kind: dict[str, dict[str, Any]], body: Any, *, is_object: bool) -> Answer:
        name = "loyaltyObject" if is_object else "loyaltyClass"
        resource_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(resource_id, str) or "." not in resource_id:
            return 400, google_error(400, f"Invalid resource ID: {resource_id}", "invalidResource",
                                     "INVALID_ARGUMENT"), {}
        if resource_id in kind:
            return 409, google_error(409, f"Resource {name} {resource_id} already exists.",
                                     "duplicate", "ALREADY_EXISTS"), {}
        if is_object and body.get("classId") not in self.classes:
            return 404, _not_found("loyaltyClass", str(body.get("classId"))), {}
        kind[resource_id] = {name: value for name, value in body.items() if value is not None}
        return 200, copy.deepcopy(kind[resource_id]), {}

    def _add_message(self, object_id: str, body: Any) -> Answer:
        if object_id not in self.objects:
            return 404, _not_found("loyaltyObject", object_id), {}
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            return 400, default_error(400), {}
        if str(message.get("messageType", "")).upper() == "TEXT_AND_NOTIFY":
            now = time.time()
            recent = [moment for moment in self._notified.get(object_id, []) if now - moment < DAY]
            if len(recent) >= self.notify_limit:
                text = (f"Quota exceeded: at most {self.notify_limit} notifying messages per "
                        "object in 24 hours.")
                return 403, google_error(403, text, "quotaExceeded", "PERMISSION_DENIED"), {}
            self._notified[object_id] = [*recent, now]
        self.objects[object_id].setdefault("messages", []).append(message)
        return 200, {"resource": copy.deepcopy(self.objects[object_id])}, {}


def _not_found(kind: str, resource_id: str) -> dict[str, Any]:
    return google_error(404, f"Resource {kind} {resource_id} not found.", "resourceNotFound",
                        "NOT_FOUND")


def _merge(resource: dict[str, Any], patch: dict[str, Any]) -> None:
    """PATCH as Google does it: top-level fields replaced whole (arrays included), null
    removes the field."""
    for name, value in patch.items():
        if value is None:
            resource.pop(name, None)
        else:
            resource[name] = copy.deepcopy(value)


def verify_assertion(assertion: str, accounts: dict[str, rsa.RSAPublicKey], *,
                     audiences: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
    """The claims of a valid JWT-bearer assertion, or None and why it is refused."""
    try:
        header_part, claims_part, signature_part = assertion.split(".")
        header = json.loads(_unbase64(header_part))
        claims = json.loads(_unbase64(claims_part))
        signature = _unbase64(signature_part)
    except ValueError:
        return None, "Malformed JWT assertion."
    key = accounts.get(claims.get("iss"))
    if header.get("alg") != "RS256" or key is None:
        return None, "Invalid JWT: unknown issuer or algorithm."
    try:
        key.verify(signature, f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(),
                   hashes.SHA256())
    except InvalidSignature:
        return None, "Invalid JWT Signature."
    now = time.time()
    if claims.get("aud") not in audiences:
        return None, f"Invalid JWT: audience {claims.get('aud')!r}."
    if WALLET_SCOPE not in str(claims.get("scope", "")).split():
        return None, "Invalid JWT: the wallet_object.issuer scope is missing."
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None, "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
    return claims, ""


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes and dropped connections are the client's business


def _handler_for(standin: GoogleStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 64 * 1024  # one write per answer: headers and body apart meet Nagle's delay

        def setup(self) -> None:
            super().setup()
            self.request.do_handshake()  # here, in the connection's thread, not in accept()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, document, extra = standin._answer(self.command, self.path.split("?")[0],
                                                      raw, headers)
            time.sleep(standin.answer_delay)
            if not self.path.endswith("/token") and standin._take_drop():
                self.close_connection = True  # applied, never answered
                return
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def write_server_certificate(directory: Path, ca_file: Path) -> tuple[Path, Path]:
    """A test CA (written to ``ca_file``, for the client) and a certificate it issued for
    127.0.0.1 and localhost; returns the server certificate and key paths."""
    start = datetime.now(UTC) - timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Google stand-in test CA")])
    ca = (_certificate(ca_name, ca_name, ca_key.public_key(), start)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
    server = (_certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
                           ca_name, key.public_key(), start)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    certificate_path, key_path = directory / "google-standin.pem", directory / "google-standin.key"
    certificate_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return certificate_path, key_path


def _certificate(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey,
                 start: datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key)
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=2)))


def sliding_peak(moments: list[float], window: float = 1.0) -> int:
    """The most of ``moments`` within ``window`` seconds of each other: what a quota
    counted over any window, wherever it starts, would see."""
    ordered, start, best = sorted(moments), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best
