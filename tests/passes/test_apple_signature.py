"""The detached PKCS#7 signature over manifest.json."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs7

from passes.apple import (
    DevelopmentChain,
    SigningIdentity,
    load_signing_identity,
    sign_manifest,
)
from passes.apple.signing import certificates_of, split_certificates, with_certificates

MANIFEST = b'{"pass.json":"0000000000000000000000000000000000000000",\r\n"icon.png":"1"}\n'
SIGNING_TIME_OID = bytes.fromhex("06092a864886f70d010905")
SHA256_OID = bytes.fromhex("0609608648016503040201")


def signing_time_of(signature: bytes) -> datetime:
    """The signingTime attribute's value, read straight from the DER."""
    assert signature.count(SIGNING_TIME_OID) == 1, "expected exactly one signingTime attribute"
    at = signature.index(SIGNING_TIME_OID) + len(SIGNING_TIME_OID)
    assert signature[at] == 0x31, "attribute values are a SET"
    tag, length = signature[at + 2], signature[at + 3]
    text = signature[at + 4 : at + 4 + length].decode("ascii")
    if tag == 0x17:
        return datetime.strptime(text, "%y%m%d%H%M%SZ").replace(tzinfo=UTC)
    assert tag == 0x18, "a CMS Time is UTCTime or GeneralizedTime"
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def test_signature_verifies_up_to_the_development_root(
    identity: SigningIdentity, chain: DevelopmentChain, verify_with_openssl: Callable[..., Any]
) -> None:
    result = verify_with_openssl(
        signature=sign_manifest(MANIFEST, identity), content=MANIFEST, root_pem=chain.root_pem
    )
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


def test_signature_does_not_verify_against_another_root(
    identity: SigningIdentity,
    other_chain: DevelopmentChain,
    verify_with_openssl: Callable[..., Any],
) -> None:
    # Proves the invocation really walks the chain to the CA file.
    result = verify_with_openssl(
        signature=sign_manifest(MANIFEST, identity), content=MANIFEST, root_pem=other_chain.root_pem
    )
    assert result.returncode != 0
    assert "certificate verify error" in result.stderr or "unable to get" in result.stderr


def test_tampered_manifest_fails_verification(
    identity: SigningIdentity, chain: DevelopmentChain, verify_with_openssl: Callable[..., Any]
) -> None:
    signature = sign_manifest(MANIFEST, identity)
    tampered = MANIFEST.replace(b"0000", b"0001", 1)
    result = verify_with_openssl(signature=signature, content=tampered, root_pem=chain.root_pem)
    assert result.returncode != 0
    assert "digest failure" in result.stderr or "verification failure" in result.stderr


def test_binary_mode_keeps_line_endings_exactly(
    identity: SigningIdentity, chain: DevelopmentChain, verify_with_openssl: Callable[..., Any]
) -> None:
    normalized = MANIFEST.replace(b"\r\n", b"\n")
    signature = sign_manifest(MANIFEST, identity)
    result = verify_with_openssl(signature=signature, content=normalized, root_pem=chain.root_pem)
    assert result.returncode != 0


def test_signature_carries_the_pass_certificate_and_the_wwdr(identity: SigningIdentity) -> None:
    certificates = pkcs7.load_der_pkcs7_certificates(sign_manifest(MANIFEST, identity))
    assert set(certificates) == {identity.certificate, identity.wwdr}


def test_a_signature_kept_without_its_certificates_gets_them_back_byte_for_byte(
        identity: SigningIdentity, other_chain: DevelopmentChain) -> None:
    other_identity = load_signing_identity(
        certificate_pem=other_chain.certificate_pem, private_key_pem=other_chain.private_key_pem,
        wwdr_pem=other_chain.wwdr_pem, password=None)
    signature = sign_manifest(MANIFEST, identity)
    bare, certificates = split_certificates(signature)
    with pytest.raises(ValueError, match="no certificate"):
        pkcs7.load_der_pkcs7_certificates(bare)
    assert len(bare) < len(signature) - 1500  # most of it: both certificates
    assert with_certificates(bare, certificates) == signature
    assert certificates == certificates_of(identity) != certificates_of(other_identity)
    with pytest.raises(ValueError, match="no certificates"):
        split_certificates(bare)
    with pytest.raises(ValueError, match="without certificates"):
        with_certificates(signature, certificates)


def test_signature_is_detached_and_uses_sha256(identity: SigningIdentity) -> None:
    signature = sign_manifest(MANIFEST, identity)
    assert MANIFEST not in signature
    assert SHA256_OID in signature


def test_signature_records_the_current_signing_time(identity: SigningIdentity) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    signed_at = signing_time_of(sign_manifest(MANIFEST, identity))
    assert before <= signed_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_given_signing_time_is_recorded_and_still_verifies(
    identity: SigningIdentity, chain: DevelopmentChain, verify_with_openssl: Callable[..., Any]
) -> None:
    kyiv = timezone(timedelta(hours=3))
    moment = datetime(2027, 3, 4, 8, 30, 15, 999, tzinfo=kyiv)
    signature = sign_manifest(MANIFEST, identity, signing_time=moment)
    assert signing_time_of(signature) == moment.replace(microsecond=0)
    result = verify_with_openssl(signature=signature, content=MANIFEST, root_pem=chain.root_pem)
    assert result.returncode == 0, result.stderr


def test_same_signing_time_gives_identical_rsa_signatures(identity: SigningIdentity) -> None:
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    first = sign_manifest(MANIFEST, identity, signing_time=moment)
    assert first == sign_manifest(MANIFEST, identity, signing_time=moment)


def test_signing_time_after_2049_is_a_generalized_time(
    identity: SigningIdentity, chain: DevelopmentChain, verify_with_openssl: Callable[..., Any]
) -> None:
    moment = datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC)
    signature = sign_manifest(MANIFEST, identity, signing_time=moment)
    assert signing_time_of(signature) == moment
    result = verify_with_openssl(signature=signature, content=MANIFEST, root_pem=chain.root_pem)
    assert result.returncode == 0, result.stderr


def test_ec_identity_signs_with_a_given_signing_time(
    make_chain: Callable[..., Any], verify_with_openssl: Callable[..., Any]
) -> None:
    custom = make_chain()
    identity = load_signing_identity(
        certificate_pem=custom.certificate_pem,
        private_key_pem=custom.private_key_pem,
        wwdr_pem=custom.wwdr_pem,
    )
    for second in range(4):  # ECDSA signatures vary in length; re-encoding must cope
        moment = datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC)
        signature = sign_manifest(MANIFEST, identity, signing_time=moment)
        assert signing_time_of(signature) == moment
        result = verify_with_openssl(
            signature=signature, content=MANIFEST, root_pem=custom.root_pem
        )
        assert result.returncode == 0, result.stderr


def test_naive_signing_time_is_refused(identity: SigningIdentity) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_manifest(MANIFEST, identity, signing_time=datetime(2026, 1, 1))
