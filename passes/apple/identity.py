"""The signing identity: the Pass Type ID certificate, its key and the WWDR intermediate.

Everything that can be wrong with the three files is found here, once, at load
time, and reported as a :class:`CertificateError` naming the faulty part, so a
pass that Wallet would silently refuse is never built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_PARTS = ("certificate", "key", "wwdr")
_NAMES = {"certificate": "The pass certificate", "wwdr": "The WWDR intermediate certificate"}


class CertificateError(ValueError):
    """A certificate, key or intermediate that cannot sign passes.

    ``part`` is ``"certificate"``, ``"key"`` or ``"wwdr"``; ``str(error)`` is one
    clear sentence meant for an operator.
    """

    def __init__(self, part: str, message: str) -> None:
        if part not in _PARTS:
            raise ValueError(f"unknown certificate part {part!r}")
        super().__init__(message)
        self.part = part
        self.message = message


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """A checked, ready-to-sign identity; build it with :func:`load_signing_identity`."""

    certificate: x509.Certificate
    private_key: PrivateKey
    wwdr: x509.Certificate
    pass_type_identifier: str
    team_identifier: str


def load_signing_identity(
    *,
    certificate_pem: bytes,
    private_key_pem: bytes,
    wwdr_pem: bytes,
    password: bytes | None = None,
    now: datetime | None = None,
) -> SigningIdentity:
    """Load and check the pass certificate, its private key and the WWDR intermediate.

    Certificates may be PEM or DER (Apple hands out ``.cer`` files in DER).
    ``now`` (timezone-aware, default: the current time) is when validity is judged.
    Raises :class:`CertificateError` naming the part at fault.
    """
    moment = _aware(now) if now is not None else datetime.now(UTC)
    certificate = _load_certificate(certificate_pem, "certificate")
    private_key = _load_private_key(private_key_pem, password)
    wwdr = _load_certificate(wwdr_pem, "wwdr")
    _check_key_matches(certificate, private_key)
    pass_type_identifier = _subject_value(certificate, NameOID.USER_ID, "UID", "pass type ID")
    team_identifier = _subject_value(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU", "team ID")
    _check_issued_by(certificate, wwdr)
    _check_validity(certificate, "certificate", moment)
    _check_validity(wwdr, "wwdr", moment)
    return SigningIdentity(
        certificate=certificate,
        private_key=private_key,
        wwdr=wwdr,
        pass_type_identifier=pass_type_identifier,
        team_identifier=team_identifier,
    )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return moment


def load_certificate(data: bytes, part: str) -> x509.Certificate:
    """One certificate, PEM or DER, alone (to read its dates, say); ``part`` is
    ``"certificate"`` or ``"wwdr"``, which a :class:`CertificateError` names."""
    return _load_certificate(data, part)


def _load_certificate(data: bytes, part: str) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateError(
            part, f"{_NAMES[part]} is not a readable PEM or DER X.509 certificate."
        ) from None


def _load_private_key(data: bytes, password: bytes | None) -> PrivateKey:
    # An encrypted PEM says so in its armour ("ENCRYPTED PRIVATE KEY" or a
    # Proc-Type header): the only way to tell a wrong password from garbage.
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise CertificateError("key", "The private key is encrypted but no password was given.")
    try:
        key = serialization.load_pem_private_key(data, password if encrypted else None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if encrypted:
            message = "The private key could not be decrypted with the given password."
        else:
            message = "The private key is not a readable PEM private key."
        raise CertificateError("key", message) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertificateError(
            "key", f"The private key must be an RSA or EC key, not {type(key).__name__}."
        )
    return key


def _check_key_matches(certificate: x509.Certificate, key: PrivateKey) -> None:
    if _public_der(certificate.public_key()) != _public_der(key.public_key()):
        raise CertificateError(
            "key", "The private key does not belong to the pass certificate (public keys differ)."
        )


def _public_der(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _subject_value(
    certificate: x509.Certificate, oid: x509.ObjectIdentifier, short: str, meaning: str
) -> str:
    attributes = certificate.subject.get_attributes_for_oid(oid)
    value = attributes[0].value if attributes else ""
    if not isinstance(value, str) or not value.strip():
        raise CertificateError(
            "certificate",
            f"The pass certificate's subject has no {short} ({meaning}), "
            "so it is not a Pass Type ID certificate.",
        )
    return value.strip()


def _check_issued_by(certificate: x509.Certificate, wwdr: x509.Certificate) -> None:
    if certificate.issuer != wwdr.subject:
        raise CertificateError(
            "wwdr",
            "The WWDR certificate did not issue the pass certificate: it is issued by "
            f"'{certificate.issuer.rfc4514_string()}', "
            f"not '{wwdr.subject.rfc4514_string()}'.",
        )
    try:
        certificate.verify_directly_issued_by(wwdr)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateError(
            "wwdr",
            "The pass certificate's signature does not verify with the WWDR certificate's "
            "key, so this WWDR is not its issuer.",
        ) from None


def _check_validity(certificate: x509.Certificate, part: str, moment: datetime) -> None:
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    if moment > not_after:
        raise CertificateError(part, f"{_NAMES[part]} expired on {_date(not_after)}.")
    if moment < not_before:
        raise CertificateError(part, f"{_NAMES[part]} is not valid until {_date(not_before)}.")


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
