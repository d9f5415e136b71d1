"""Verifying Google Wallet's signed save and delete callbacks (ECv2SigningOnly)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passes.google.callbacks import (
    PROTOCOL_VERSION,
    SENDER_ID,
    Callback,
    CallbackError,
    RootKeys,
    length_prefixed,
    root_keys_document,
    sign_callback,
    verify_callback,
)

NOW_MS = 1_700_000_000_000
HOUR_MS = 3_600_000
ISSUER_ID = "3388000000022222222"
CLASS_ID = f"{ISSUER_ID}.coffee-club"
OBJECT_ID = f"{ISSUER_ID}.card-0001"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def root_key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def intermediate_key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def root_keys(root_key: ec.EllipticCurvePrivateKey) -> RootKeys:
    document = root_keys_document([root_key.public_key()], NOW_MS + 24 * HOUR_MS)
    return RootKeys.from_json(json.dumps(document), now_ms=NOW_MS)


def message(event_type: str = "save", **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "classId": CLASS_ID,
        "objectId": OBJECT_ID,
        "expTimeMillis": NOW_MS + HOUR_MS,
        "eventType": event_type,
        "nonce": "6a1f6b0e-7d1c-4f53-9a51-6f1f1d3c2b10",
    }
    return fields | overrides


Sign = Callable[..., dict[str, Any]]


@pytest.fixture
def sign(
    root_key: ec.EllipticCurvePrivateKey, intermediate_key: ec.EllipticCurvePrivateKey
) -> Sign:
    """Sign a message as Google would, with overridable keys, recipient and expiry."""

    def _sign(event: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "root_private_key": root_key,
            "intermediate_private_key": intermediate_key,
            "recipient_id": ISSUER_ID,
            "intermediate_expires_ms": NOW_MS + 12 * HOUR_MS,
        }
        return sign_callback(event or message(), **(arguments | options))

    return _sign


def verify(body: Any, root_keys: RootKeys, **options: Any) -> Callback:
    arguments: dict[str, Any] = {
        "root_keys": root_keys,
        "recipient_id": ISSUER_ID,
        "now_ms": NOW_MS,
    }
    return verify_callback(body, **(arguments | options))


@pytest.mark.parametrize("event_type", ["save", "del"])
def test_a_good_callback_verifies_and_returns_its_fields(
    sign: Sign, root_keys: RootKeys, event_type: str
) -> None:
    body = json.dumps(sign(message(event_type)))
    assert verify(body, root_keys) == Callback(
        class_id=CLASS_ID,
        object_id=OBJECT_ID,
        event_type=event_type,  # type: ignore[arg-type]
        nonce="6a1f6b0e-7d1c-4f53-9a51-6f1f1d3c2b10",
        expires_at_ms=NOW_MS + HOUR_MS,
    )


def test_the_body_may_be_bytes_text_or_an_already_parsed_mapping(
    sign: Sign, root_keys: RootKeys
) -> None:
    body = sign()
    results = {
        verify(form, root_keys) for form in (body, json.dumps(body), json.dumps(body).encode())
    }
    assert len(results) == 1


def test_an_upper_case_event_type_is_accepted(sign: Sign, root_keys: RootKeys) -> None:
    assert verify(sign(message("DEL")), root_keys).event_type == "del"


def test_an_expiry_sent_as_a_decimal_string_is_accepted(sign: Sign, root_keys: RootKeys) -> None:
    event = message(expTimeMillis=str(NOW_MS + HOUR_MS))
    assert verify(sign(event), root_keys).expires_at_ms == NOW_MS + HOUR_MS


def test_a_callback_for_another_issuer_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    with pytest.raises(CallbackError, match="message signature"):
        verify(sign(recipient_id="3388000000099999999"), root_keys)


def test_a_callback_signed_for_another_sender_id_is_refused(
    sign: Sign, root_keys: RootKeys
) -> None:
    with pytest.raises(CallbackError, match="intermediate signing key"):
        verify(sign(sender_id="GoogleWalletPasses"), root_keys)


def test_the_sender_id_can_be_changed_when_google_signs_with_another(
    sign: Sign, root_keys: RootKeys
) -> None:
    body = sign(sender_id="GoogleWalletPasses")
    assert verify(body, root_keys, sender_id="GoogleWalletPasses").object_id == OBJECT_ID


def test_a_tampered_signed_message_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    body = sign()
    body["signedMessage"] = body["signedMessage"].replace(OBJECT_ID, f"{ISSUER_ID}.card-0002")
    with pytest.raises(CallbackError, match="message signature"):
        verify(body, root_keys)


def test_a_tampered_signed_key_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    body = sign()
    signed_key = json.loads(body["intermediateSigningKey"]["signedKey"])
    signed_key["keyExpiration"] = str(NOW_MS + 1000 * HOUR_MS)
    body["intermediateSigningKey"]["signedKey"] = json.dumps(signed_key)
    with pytest.raises(CallbackError, match="not signed by any unexpired root key"):
        verify(body, root_keys)


def test_an_intermediate_key_signed_by_an_unknown_root_is_refused(
    sign: Sign, root_keys: RootKeys
) -> None:
    with pytest.raises(CallbackError, match="not signed by any unexpired root key"):
        verify(sign(root_private_key=new_key()), root_keys)


def test_a_message_signed_by_another_intermediate_key_is_refused(
    sign: Sign, root_keys: RootKeys
) -> None:
    body = sign()
    body["signature"] = sign(intermediate_private_key=new_key())["signature"]
    with pytest.raises(CallbackError, match="message signature"):
        verify(body, root_keys)


def test_an_expired_intermediate_key_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    with pytest.raises(CallbackError, match="intermediate signing key has expired"):
        verify(sign(intermediate_expires_ms=NOW_MS), root_keys)


def test_an_expired_message_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    with pytest.raises(CallbackError, match="message has expired"):
        verify(sign(message(expTimeMillis=NOW_MS - 1)), root_keys)


def test_the_second_root_key_is_trusted_during_a_key_rotation(
    sign: Sign, root_key: ec.EllipticCurvePrivateKey
) -> None:
    new_root = new_key()
    document = root_keys_document([root_key.public_key(), new_root.public_key()], NOW_MS + HOUR_MS)
    rotated = RootKeys.from_json(document, now_ms=NOW_MS)
    assert verify(sign(root_private_key=new_root), rotated).object_id == OBJECT_ID


def test_a_root_key_that_expires_after_loading_is_no_longer_trusted(
    sign: Sign, root_key: ec.EllipticCurvePrivateKey
) -> None:
    document = root_keys_document([root_key.public_key()], NOW_MS + HOUR_MS)
    cached = RootKeys.from_json(document, now_ms=NOW_MS)
    later = NOW_MS + HOUR_MS
    event = message(expTimeMillis=later + HOUR_MS)
    with pytest.raises(CallbackError, match="not signed by any unexpired root key"):
        verify(sign(event, intermediate_expires_ms=later + HOUR_MS), cached, now_ms=later)


def test_the_root_key_document_keeps_only_unexpired_signing_only_keys() -> None:
    keep, old, other_protocol, no_expiry = (new_key().public_key() for _ in range(4))
    document = root_keys_document([keep], NOW_MS + 1)
    document["keys"] += root_keys_document([old], NOW_MS)["keys"]
    document["keys"] += [
        {**root_keys_document([other_protocol], NOW_MS + 1)["keys"][0], "protocolVersion": "ECv2"}
    ]
    document["keys"] += [
        {
            k: v
            for k, v in root_keys_document([no_expiry], 0)["keys"][0].items()
            if k != "keyExpiration"
        }
    ]
    loaded = RootKeys.from_json(json.dumps(document).encode(), now_ms=NOW_MS)
    assert [key.public_key.public_numbers() for key in loaded.keys] == [keep.public_numbers()]


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        "[]",
        {"keys": "none"},
        {"keys": ["not an object"]},
        {"keys": []},
        root_keys_document([], NOW_MS + 1),
        {
            "keys": [
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "keyExpiration": str(NOW_MS - 1),
                    "keyValue": "AAAA",
                }
            ]
        },
        {
            "keys": [
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "keyExpiration": str(NOW_MS + 1),
                    "keyValue": "!!",
                }
            ]
        },
        {
            "keys": [
                {"protocolVersion": PROTOCOL_VERSION, "keyExpiration": "soon", "keyValue": "AAAA"}
            ]
        },
    ],
)
def test_a_bad_or_empty_root_key_document_raises_callback_error(document: Any) -> None:
    with pytest.raises(CallbackError):
        RootKeys.from_json(document, now_ms=NOW_MS)


def test_a_wrong_protocol_version_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    body = sign() | {"protocolVersion": "ECv2"}
    with pytest.raises(CallbackError, match="protocolVersion"):
        verify(body, root_keys)


def test_an_unknown_event_type_is_refused(sign: Sign, root_keys: RootKeys) -> None:
    with pytest.raises(CallbackError, match="unknown eventType 'update'"):
        verify(sign(message("update")), root_keys)


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return copy


MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "not JSON": lambda body: b"{not json",
    "not UTF-8": lambda body: b"\xff\xfe",
    "a JSON array": lambda body: "[]",
    "no signature": lambda body: _without(body, "signature"),
    "no signedMessage": lambda body: _without(body, "signedMessage"),
    "no protocolVersion": lambda body: _without(body, "protocolVersion"),
    "no intermediateSigningKey": lambda body: _without(body, "intermediateSigningKey"),
    "no signedKey": lambda body: _without(body, "intermediateSigningKey", "signedKey"),
    "no signatures": lambda body: _without(body, "intermediateSigningKey", "signatures"),
    "intermediateSigningKey a string": lambda body: body | {"intermediateSigningKey": "x"},
    "signatures a string": lambda body: (
        body | {"intermediateSigningKey": body["intermediateSigningKey"] | {"signatures": "x"}}
    ),
    "signatures of numbers": lambda body: (
        body | {"intermediateSigningKey": body["intermediateSigningKey"] | {"signatures": [1]}}
    ),
    "signature not base64": lambda body: body | {"signature": "***"},
    "signature a number": lambda body: body | {"signature": 7},
    "nested 30,000 deep": lambda body: b"[" * 30_000 + b"]" * 30_000,
    "a lone surrogate in signedMessage": lambda body: body | {"signedMessage": "\ud800"},
    "a lone surrogate in signedKey": lambda body: (
        body | {"intermediateSigningKey": body["intermediateSigningKey"] | {
            "signedKey": "{\udfff}"}}
    ),
}


@pytest.mark.parametrize("breakage", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_raises_callback_error_not_key_or_type_error(
    sign: Sign, root_keys: RootKeys, breakage: Callable[[dict[str, Any]], Any]
) -> None:
    with pytest.raises(CallbackError):
        verify(breakage(sign()), root_keys)


@pytest.mark.parametrize(
    "event",
    [
        {k: v for k, v in message().items() if k != "nonce"},
        {k: v for k, v in message().items() if k != "classId"},
        {k: v for k, v in message().items() if k != "expTimeMillis"},
        message(expTimeMillis=True),
        message(expTimeMillis="tomorrow"),
        message(eventType=None),
        message(objectId=42),
        message(objectId="3388000000012345678.card\x00"),
        message(nonce="\ud800"),
        message(expTimeMillis="9" * 5000),
    ],
    ids=[
        "no nonce",
        "no classId",
        "no expTimeMillis",
        "boolean expiry",
        "word expiry",
        "null eventType",
        "numeric objectId",
        "NUL in objectId",
        "lone surrogate in nonce",
        "5000-digit expiry",
    ],
)
def test_a_signed_but_malformed_message_raises_callback_error(
    sign: Sign, root_keys: RootKeys, event: dict[str, Any]
) -> None:
    with pytest.raises(CallbackError):
        verify(sign(event), root_keys)


def test_a_signed_message_that_is_not_json_raises_callback_error(
    intermediate_key: ec.EllipticCurvePrivateKey, sign: Sign, root_keys: RootKeys
) -> None:
    body = sign()
    body["signedMessage"] = "not json"
    signed = length_prefixed(SENDER_ID, ISSUER_ID, PROTOCOL_VERSION, "not json")
    signature = intermediate_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    body["signature"] = base64.b64encode(signature).decode()
    with pytest.raises(CallbackError, match="signedMessage is not valid JSON"):
        verify(body, root_keys)


def test_the_length_prefix_is_four_bytes_little_endian() -> None:
    assert length_prefixed("ab", "") == b"\x02\x00\x00\x00ab" + b"\x00\x00\x00\x00"
    assert length_prefixed("x" * 258) == b"\x02\x01\x00\x00" + b"x" * 258
    assert length_prefixed("é") == b"\x02\x00\x00\x00\xc3\xa9"  # bytes of UTF-8, not characters


def test_the_length_prefix_matches_a_signature_made_by_tink() -> None:
    """An ECv1 token from Tink's own PaymentMethodTokenRecipientTest (sender "Google").

    ECv1 signs the same length-prefixed (sender, recipient, protocol, message)
    bytes as ECv2SigningOnly, so this is a real interoperability vector.
    """
    public_key = serialization.load_der_public_key(
        base64.b64decode(
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPYnHwS8uegWAewQtlxizmLFynwHcxRT1PK07cDA6/C4sXrV"
            "I1SzZCUx8U8S0LjMrT6ird/VW7be3Mz6t/srtRQ=="
        )
    )
    signature = base64.b64decode(
        "MEQCIDxBoUCoFRGReLdZ/cABlSSRIKoOEFoU3e27c14vMZtfAiBtX3pGMEpnw6mSAbnagCCgHlCk3NcFwWYEyx"
        "IE6KGZVA=="
    )
    signed_message = (
        r'{"tag":"ZVwlJt7dU8Plk0+r8rPF8DmPTvDiOA1UAoNjDV+SqDE\u003d",'
        r'"ephemeralPublicKey":"BPhVspn70Zj2Kkgu9t8+ApEuUWsI/zos5whGCQBlgOkuYagOis7qsrcbQrcprjvTZ'
        r'O3XOU+Qbcc28FSgsRtcgQE\u003d","encryptedMessage":"12jUObueVTdy"}'
    )
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    fields = ("Google", "someRecipient", "ECv1", signed_message)
    public_key.verify(signature, length_prefixed(*fields), ec.ECDSA(hashes.SHA256()))
    big_endian = b"".join(struct.pack(">I", len(f.encode())) + f.encode() for f in fields)
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, big_endian, ec.ECDSA(hashes.SHA256()))


def test_a_hand_built_body_verifies_only_with_little_endian_prefixes(
    root_key: ec.EllipticCurvePrivateKey,
    intermediate_key: ec.EllipticCurvePrivateKey,
    root_keys: RootKeys,
) -> None:
    def body_with(order: str) -> dict[str, Any]:
        def signed(*fields: str) -> bytes:
            return b"".join(struct.pack(order, len(f.encode())) + f.encode() for f in fields)

        der = intermediate_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signed_key = json.dumps(
            {"keyValue": base64.b64encode(der).decode(), "keyExpiration": str(NOW_MS + HOUR_MS)}
        )
        signed_message = json.dumps(message())
        ecdsa = ec.ECDSA(hashes.SHA256())
        key_signature = root_key.sign(
            signed("GooglePayPasses", "ECv2SigningOnly", signed_key), ecdsa
        )
        message_signature = intermediate_key.sign(
            signed("GooglePayPasses", ISSUER_ID, "ECv2SigningOnly", signed_message), ecdsa
        )
        return {
            "signature": base64.b64encode(message_signature).decode(),
            "intermediateSigningKey": {
                "signedKey": signed_key,
                "signatures": [base64.b64encode(key_signature).decode()],
            },
            "protocolVersion": "ECv2SigningOnly",
            "signedMessage": signed_message,
        }

    assert verify(body_with("<I"), root_keys).object_id == OBJECT_ID
    with pytest.raises(CallbackError):
        verify(body_with(">I"), root_keys)


def test_the_signer_produces_exactly_googles_fields(sign: Sign) -> None:
    body = sign()
    assert set(body) == {"signature", "intermediateSigningKey", "protocolVersion", "signedMessage"}
    assert set(body["intermediateSigningKey"]) == {"signedKey", "signatures"}
    assert set(json.loads(body["intermediateSigningKey"]["signedKey"])) == {
        "keyValue",
        "keyExpiration",
    }
    assert isinstance(body["signedMessage"], str)
    assert body["protocolVersion"] == "ECv2SigningOnly"
