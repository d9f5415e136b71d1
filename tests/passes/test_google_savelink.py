"""The save link: a short RS256 JWT naming one object, checked against the public key."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from google.auth import crypt

from passes.google import (
    MAX_SAVE_LINK_LENGTH,
    SAVE_URL_PREFIX,
    save_link,
    signer_from_service_account_info,
)

ISSUER_EMAIL = "loyalpass-wallet@loyalpass-prod-123456.iam.gserviceaccount.com"
KEY_ID = "3f2b9c0d4e5f60718293a4b5c6d7e8f901234567"
OBJECT_ID = "3388000000022195123.8f2c3b1e-6a7d-4c1e-9b2a-0123456789ab"
CLASS_ID = "3388000000022195123.loyalpass.program-42"
ISSUED_AT = 1_763_900_000


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def service_account_info(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "loyalpass-prod-123456",
        "client_email": ISSUER_EMAIL,
        "private_key": pem_of(private_key),
        "private_key_id": KEY_ID,
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture(scope="module")
def signer(service_account_info: dict[str, str]) -> crypt.RSASigner:
    return signer_from_service_account_info(service_account_info)


def make_link(signer: crypt.Signer, **changes: Any) -> str:
    arguments: dict[str, Any] = {
        "signer": signer,
        "issuer_email": ISSUER_EMAIL,
        "object_id": OBJECT_ID,
        "class_id": CLASS_ID,
        "origins": ["https://loyalpass.example"],
        "issued_at": ISSUED_AT,
    }
    arguments.update(changes)
    return save_link(**arguments)


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verified_parts(
    token: str, public_key: rsa.RSAPublicKey
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of an RS256 JWT, after checking its signature; raises if it is bad."""
    header_segment, claims_segment, signature_segment = token.split(".")
    public_key.verify(
        b64decode(signature_segment),
        f"{header_segment}.{claims_segment}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64decode(header_segment)), json.loads(b64decode(claims_segment))


def token_of(link: str) -> str:
    assert link.startswith(SAVE_URL_PREFIX)
    return link.removeprefix(SAVE_URL_PREFIX)


def test_link_is_googles_save_url_and_well_under_the_length_limit(signer: crypt.Signer) -> None:
    link = make_link(signer)
    assert link.startswith("https://pay.google.com/gp/v/save/")
    assert len(link) < MAX_SAVE_LINK_LENGTH == 1800
    assert len(link) < 1000  # names the object only; a full object would be kilobytes


def test_jwt_verifies_with_the_service_accounts_public_key(
    signer: crypt.Signer, private_key: rsa.RSAPrivateKey
) -> None:
    header, claims = verified_parts(token_of(make_link(signer)), private_key.public_key())
    assert header == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    assert claims["aud"] == "google"


def test_claims_are_exactly_the_ones_google_documents(
    signer: crypt.Signer, private_key: rsa.RSAPrivateKey
) -> None:
    _, claims = verified_parts(token_of(make_link(signer)), private_key.public_key())
    assert claims == {
        "iss": ISSUER_EMAIL,
        "aud": "google",
        "typ": "savetowallet",
        "iat": ISSUED_AT,
        "origins": ["https://loyalpass.example"],
        "payload": {"loyaltyObjects": [{"id": OBJECT_ID, "classId": CLASS_ID}]},
    }
    assert set(claims["payload"]) == {"loyaltyObjects"}
    assert len(claims["payload"]["loyaltyObjects"]) == 1
    assert set(claims["payload"]["loyaltyObjects"][0]) == {"id", "classId"}


def test_origins_are_reduced_to_scheme_and_host(
    signer: crypt.Signer, private_key: rsa.RSAPrivateKey
) -> None:
    link = make_link(
        signer, origins=["https://loyalpass.example/some/path?q=1", "http://127.0.0.1:5000"]
    )
    _, claims = verified_parts(token_of(link), private_key.public_key())
    assert claims["origins"] == ["https://loyalpass.example", "http://127.0.0.1:5000"]


def test_a_tampered_payload_fails_verification(
    signer: crypt.Signer, private_key: rsa.RSAPrivateKey
) -> None:
    header_segment, claims_segment, signature_segment = token_of(make_link(signer)).split(".")
    claims = json.loads(b64decode(claims_segment))
    claims["payload"]["loyaltyObjects"][0]["id"] = "3388000000022195123.someone-elses-card"
    forged = ".".join((header_segment, b64encode(json.dumps(claims).encode()), signature_segment))
    with pytest.raises(InvalidSignature):
        verified_parts(forged, private_key.public_key())


def test_a_tampered_signature_fails_verification(
    signer: crypt.Signer, private_key: rsa.RSAPrivateKey
) -> None:
    header_segment, claims_segment, signature_segment = token_of(make_link(signer)).split(".")
    signature = bytearray(b64decode(signature_segment))
    signature[10] ^= 0x01
    forged = ".".join((header_segment, claims_segment, b64encode(bytes(signature))))
    with pytest.raises(InvalidSignature):
        verified_parts(forged, private_key.public_key())


def test_another_key_does_not_verify_the_link(signer: crypt.Signer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignature):
        verified_parts(token_of(make_link(signer)), stranger.public_key())


def test_a_link_that_would_exceed_the_limit_is_refused(signer: crypt.Signer) -> None:
    with pytest.raises(ValueError, match="1800"):
        make_link(signer, object_id="3388000000022195123." + "x" * 1500)


@pytest.mark.parametrize(
    "changes",
    [
        {"object_id": "3388000000022195123.card 0001"},
        {"object_id": "card-0001"},
        {"class_id": "loyalpass.program-42"},
        {"class_id": "1111.loyalpass.program-42"},
        {"issued_at": True},
        {"issued_at": -1},
        {"issued_at": 1.5},
        {"origins": []},
        {"origins": "https://loyalpass.example"},
        {"origins": ["ftp://loyalpass.example"]},
        {"origins": ["loyalpass.example"]},
        {"issuer_email": "loyalpass-wallet"},
    ],
)
def test_bad_link_input_is_refused(signer: crypt.Signer, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_link(signer, **changes)


def test_a_signer_without_key_id_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    from_pem = cast(Callable[[str], crypt.RSASigner], crypt.RSASigner.from_string)
    anonymous = from_pem(pem_of(private_key))  # a key file without private_key_id
    with pytest.raises(ValueError, match="key id"):
        make_link(anonymous)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "authorized_user"},
        {"client_email": ""},
        {"private_key": None},
        {"private_key_id": None},
        {"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"},
        {"private_key": pem_of(ec.generate_private_key(ec.SECP256R1()))},
    ],
)
def test_an_unusable_service_account_key_is_refused(
    service_account_info: dict[str, str], changes: dict[str, Any]
) -> None:
    info = {**service_account_info, **changes}
    info = {key: value for key, value in info.items() if value is not None}
    with pytest.raises(ValueError):
        signer_from_service_account_info(info)


def test_signer_takes_its_key_id_from_the_key_file(signer: crypt.Signer) -> None:
    assert signer.key_id == KEY_ID
