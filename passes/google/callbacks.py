"""Verifying Google Wallet's save and delete callbacks.

When a class has ``callbackOptions.url``, Google POSTs a JSON body to it each
time a user saves or deletes one of the class's objects. Anyone can POST to
that URL, so the body is only trusted once its signatures check out. The body
is signed with ``ECv2SigningOnly``, the signing half of Google Pay's payment
method token (Tink's ``PaymentMethodTokenRecipient``):

- a Google root key (published at ``ROOT_KEYS_URL``) signs an intermediate
  key, which carries its own expiry;
- the intermediate key signs the message, which also expires, and names the
  recipient (the issuer id), so a callback meant for another issuer fails;
- every signature is ECDSA P-256/SHA-256 (DER) over ``length_prefixed``
  fields: each UTF-8 field after its length as 4 bytes little-endian.

Nothing here fetches keys or reads the clock: the caller passes the root key
document and ``now_ms``, so the checks are deterministic and testable.
``sign_callback`` and ``root_keys_document`` produce Google's exact format
with the caller's own keys, for tests and local stand-ins of Google only.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PROTOCOL_VERSION = "ECv2SigningOnly"
# Google's callback guides name "GooglePayPasses" and pay.google.com; some newer
# copies name "GoogleWalletPasses" and wallet.google.com: the sender id is a
# parameter and the URL only a default for whoever fetches the keys.
SENDER_ID = "GooglePayPasses"
ROOT_KEYS_URL = "https://pay.google.com/gp/m/issuer/keys"

EventType = Literal["save", "del"]
_EVENT_TYPES: dict[str, EventType] = {"save": "save", "del": "del"}
_ECDSA = ec.ECDSA(hashes.SHA256())
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class CallbackError(ValueError):
    """A callback body or root key document that must not be trusted; the message says why."""


@dataclass(frozen=True)
class Callback:
    """A verified save or delete of one object; Google may repeat an event, so dedupe on nonce."""

    class_id: str
    object_id: str
    event_type: EventType
    nonce: str
    expires_at_ms: int


@dataclass(frozen=True)
class RootKey:
    """One of Google's root signing keys with its expiry (milliseconds since the epoch)."""

    public_key: ec.EllipticCurvePublicKey
    expires_at_ms: int


@dataclass(frozen=True)
class RootKeys:
    """Google's root signing keys for ``ECv2SigningOnly``.

    Expiries are kept so that a cached document stops trusting a key once it
    expires, not only when it is loaded.
    """

    keys: tuple[RootKey, ...]

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any], *, now_ms: int) -> RootKeys:
        """Parse ``{"keys": [...]}``, keeping unexpired ``ECv2SigningOnly`` keys.

        Keys for other protocols, and keys without an expiry (Tink ignores
        those too), are skipped. A document left with no key raises, because
        every callback would then fail: better to learn it when loading.
        """
        document = _load_json(data, "root key document")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise CallbackError("root key document has no 'keys' list")
        keys = tuple(key for key in map(_root_key, entries) if key and key.expires_at_ms > now_ms)
        if not keys:
            raise CallbackError(f"root key document has no unexpired {PROTOCOL_VERSION} key")
        return cls(keys)

    def usable(self, now_ms: int) -> tuple[ec.EllipticCurvePublicKey, ...]:
        """The public keys still valid at ``now_ms``."""
        return tuple(key.public_key for key in self.keys if key.expires_at_ms > now_ms)


def verify_callback(
    body: bytes | str | Mapping[str, Any],
    *,
    root_keys: RootKeys,
    recipient_id: str,
    now_ms: int,
    sender_id: str = SENDER_ID,
) -> Callback:
    """Check every signature and expiry of a callback body, then return its event.

    ``recipient_id`` is the issuer id. Raises ``CallbackError`` for anything
    that should be refused, never ``KeyError`` or ``TypeError``.
    """
    token = _load_json(body, "callback body")
    if _string(token, "protocolVersion", "callback body") != PROTOCOL_VERSION:
        raise CallbackError(f"protocolVersion is not {PROTOCOL_VERSION}")
    intermediate_key = _intermediate_key(token, root_keys, sender_id=sender_id, now_ms=now_ms)
    signed_message = _string(token, "signedMessage", "callback body")
    signed = length_prefixed(sender_id, recipient_id, PROTOCOL_VERSION, signed_message)
    signature = _b64decode(_string(token, "signature", "callback body"), "signature")
    if not _verifies(intermediate_key, signature, signed):
        raise CallbackError("message signature is invalid (tampered, or for another recipient)")
    return _callback(_load_json(signed_message, "signedMessage"), now_ms=now_ms)


def length_prefixed(*fields: str) -> bytes:
    """The bytes ECv2 signs: each field's UTF-8 length (4 bytes, little-endian), then the field."""
    encoded = (field.encode("utf-8") for field in fields)
    return b"".join(struct.pack("<I", len(raw)) + raw for raw in encoded)


def sign_callback(
    message: Mapping[str, Any],
    *,
    root_private_key: ec.EllipticCurvePrivateKey,
    intermediate_private_key: ec.EllipticCurvePrivateKey,
    recipient_id: str,
    intermediate_expires_ms: int,
    sender_id: str = SENDER_ID,
) -> dict[str, Any]:
    """A callback body in Google's exact format, signed with the caller's keys.

    For tests and local stand-ins of Google: ``message`` is the event as
    Google sends it (``classId``, ``objectId``, ``expTimeMillis``,
    ``eventType``, ``nonce``); pair it with ``root_keys_document``.
    """
    key_value = _public_key_b64(intermediate_private_key.public_key())
    signed_key = _compact({"keyValue": key_value, "keyExpiration": str(intermediate_expires_ms)})
    signed_message = _compact(message)
    key_bytes = length_prefixed(sender_id, PROTOCOL_VERSION, signed_key)
    message_bytes = length_prefixed(sender_id, recipient_id, PROTOCOL_VERSION, signed_message)
    return {
        "signature": _b64(intermediate_private_key.sign(message_bytes, _ECDSA)),
        "intermediateSigningKey": {
            "signedKey": signed_key,
            "signatures": [_b64(root_private_key.sign(key_bytes, _ECDSA))],
        },
        "protocolVersion": PROTOCOL_VERSION,
        "signedMessage": signed_message,
    }


def root_keys_document(
    public_keys: Iterable[ec.EllipticCurvePublicKey], expires_ms: int
) -> dict[str, Any]:
    """A root key document shaped like Google's, for tests and local stand-ins of Google."""
    fields = {"protocolVersion": PROTOCOL_VERSION, "keyExpiration": str(expires_ms)}
    return {"keys": [{"keyValue": _public_key_b64(key), **fields} for key in public_keys]}


def _intermediate_key(
    token: Mapping[str, Any], root_keys: RootKeys, *, sender_id: str, now_ms: int
) -> ec.EllipticCurvePublicKey:
    """The intermediate key, once a root key vouches for it and it has not expired."""
    container = token.get("intermediateSigningKey")
    if not isinstance(container, Mapping):
        raise CallbackError("callback body has no 'intermediateSigningKey' object")
    signed_key = _string(container, "signedKey", "intermediateSigningKey")
    signatures = container.get("signatures")
    if not isinstance(signatures, list) or not all(isinstance(s, str) for s in signatures):
        raise CallbackError("intermediateSigningKey has no 'signatures' list of strings")
    signed = length_prefixed(sender_id, PROTOCOL_VERSION, signed_key)
    decoded = [_b64decode(s, "intermediate key signature") for s in signatures]
    roots = root_keys.usable(now_ms)
    if not any(_verifies(root, sig, signed) for root in roots for sig in decoded):
        raise CallbackError("intermediate signing key is not signed by any unexpired root key")
    key = _load_json(signed_key, "signedKey")
    if _millis(key, "keyExpiration", "signedKey") <= now_ms:
        raise CallbackError("intermediate signing key has expired")
    return _p256_key(_string(key, "keyValue", "signedKey"), "intermediate signing key")


def _callback(message: Mapping[str, Any], *, now_ms: int) -> Callback:
    expires_at_ms = _millis(message, "expTimeMillis", "signedMessage")
    if expires_at_ms <= now_ms:
        raise CallbackError("callback message has expired")
    event = _string(message, "eventType", "signedMessage")
    event_type = _EVENT_TYPES.get(event.lower())
    if event_type is None:
        raise CallbackError(f"unknown eventType {event!r}")
    return Callback(
        class_id=_string(message, "classId", "signedMessage"),
        object_id=_string(message, "objectId", "signedMessage"),
        event_type=event_type,
        nonce=_string(message, "nonce", "signedMessage"),
        expires_at_ms=expires_at_ms,
    )


def _root_key(entry: object) -> RootKey | None:
    if not isinstance(entry, Mapping):
        raise CallbackError("root key document has a key that is not an object")
    if entry.get("protocolVersion") != PROTOCOL_VERSION or "keyExpiration" not in entry:
        return None
    return RootKey(
        public_key=_p256_key(_string(entry, "keyValue", "root key"), "root key"),
        expires_at_ms=_millis(entry, "keyExpiration", "root key"),
    )


def _verifies(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, _ECDSA)
    except (InvalidSignature, ValueError):
        return False
    return True


def _load_json(data: bytes | str | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if isinstance(data, Mapping):
        return data
    try:
        loaded = json.loads(data)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise CallbackError(f"{what} is not valid JSON") from error
    except RecursionError:  # the parser recurses per level: thousands of brackets
        raise CallbackError(f"{what} is nested too deeply") from None
    if not isinstance(loaded, dict):
        raise CallbackError(f"{what} is not a JSON object")
    return loaded


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise CallbackError(f"{where} has no string {key!r}")
    if not value.isascii() and _SURROGATE.search(value):
        # "\ud800" in JSON: no UTF-8 encoding exists, so nothing could have signed it.
        raise CallbackError(f"{where} has a lone surrogate in {key!r}")
    if "\x00" in value:  # in no field Google sends, and no database stores it as text
        raise CallbackError(f"{where} has a NUL character in {key!r}")
    return value


def _millis(obj: Mapping[str, Any], key: str, where: str) -> int:
    """Milliseconds since the epoch, sent as a decimal string or a JSON number."""
    value = obj.get(key)
    # At most 19 digits: a 64-bit time, and never thousands of digits for int() to refuse.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise CallbackError(f"{where} has no millisecond timestamp {key!r}")


def _p256_key(value: str, what: str) -> ec.EllipticCurvePublicKey:
    der = _b64decode(value, what)
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise CallbackError(f"{what} is not a DER SubjectPublicKeyInfo") from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CallbackError(f"{what} is not an EC P-256 key")
    return key


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as error:  # binascii.Error
        raise CallbackError(f"{what} is not valid base64") from error


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _public_key_b64(key: ec.EllipticCurvePublicKey) -> str:
    return _b64(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def _compact(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), separators=(",", ":"))
