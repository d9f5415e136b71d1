"""A development certificate chain shaped like Apple's, for local use and tests.

root CA -> "WWDR" intermediate (standing in for Apple's WWDR G4) -> a leaf with
the subject, key usages and Apple extensions of a real Pass Type ID certificate.
Wallet on a real device will never trust it; everything else (signing,
``openssl cms -verify`` against ``root_pem``, APNs test servers) can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

APPLE_PASS_EKU = x509.ObjectIdentifier("1.2.840.113635.100.4.14")
# Extensions Apple puts on Pass Type ID certificates (seen on real ones).
_APPLE_PASS_MARKER = x509.ObjectIdentifier("1.2.840.113635.100.6.3.2")
_APPLE_PASS_TYPE_ID = x509.ObjectIdentifier("1.2.840.113635.100.6.1.16")

_ROOT_DAYS = 3650
_WWDR_DAYS = 3285
_LEAF_DAYS = 1095
# Backdating absorbs clock skew between the machine that mints and the one that checks.
_BACKDATE = timedelta(hours=1)


@dataclass(frozen=True)
class DevelopmentChain:
    """PEM bytes of a development root, intermediate, leaf and the leaf's key."""

    root_pem: bytes
    wwdr_pem: bytes
    certificate_pem: bytes
    private_key_pem: bytes


def make_development_chain(
    *,
    pass_type_identifier: str = "pass.dev.loyalpass.card",  # noqa: S107 (not a password)
    team_identifier: str = "LOYALDEV01",
    organization: str = "Loyalpass Development",
    key_password: bytes | None = None,
    leaf_days: float = _LEAF_DAYS,
    wwdr_days: float = _WWDR_DAYS,
) -> DevelopmentChain:
    """Mint a fresh chain (new RSA 2048 keys each call); the key PEM is encrypted if asked.
    ``leaf_days`` and ``wwdr_days`` are how long the pass certificate and the intermediate
    stay valid from now (less an hour of backdating): short ones try the expiry warnings."""
    now = datetime.now(UTC) - _BACKDATE
    root_key = _new_key()
    root_name = _name(organization, "Loyalpass Development Root CA")
    root = _ca_certificate(root_name, root_key, root_name, root_key, now, _ROOT_DAYS, None)
    wwdr_key = _new_key()
    wwdr_name = _name(organization, "Loyalpass Development WWDR")
    wwdr = _ca_certificate(wwdr_name, wwdr_key, root_name, root_key, now, wwdr_days, 0)
    leaf_key = _new_key()
    leaf = _leaf_certificate(
        leaf_key, wwdr_name, wwdr_key, now, pass_type_identifier, team_identifier, organization,
        leaf_days,
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(key_password)
        if key_password
        else serialization.NoEncryption()
    )
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return DevelopmentChain(
        root_pem=_pem(root),
        wwdr_pem=_pem(wwdr),
        certificate_pem=_pem(leaf),
        private_key_pem=key_pem,
    )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(organization: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _ca_certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    start: datetime,
    days: float,
    path_length: int | None,
) -> x509.Certificate:
    return (
        _builder(subject, key, issuer, issuer_key, start, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(certificate_authority=True), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _leaf_certificate(
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    start: datetime,
    pass_type_identifier: str,
    team_identifier: str,
    organization: str,
    days: float,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )
    # clientAuth because the same certificate authenticates to APNs.
    usages = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, APPLE_PASS_EKU])
    pass_type = _der_utf8_string(pass_type_identifier)
    return (
        _builder(subject, key, issuer, issuer_key, start, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_authority=False), critical=True)
        .add_extension(usages, critical=False)
        .add_extension(x509.UnrecognizedExtension(_APPLE_PASS_MARKER, b"\x05\x00"), critical=False)
        .add_extension(x509.UnrecognizedExtension(_APPLE_PASS_TYPE_ID, pass_type), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _builder(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    start: datetime,
    days: float,
) -> x509.CertificateBuilder:
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _key_usage(*, certificate_authority: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_authority,
        crl_sign=certificate_authority,
        encipher_only=False,
        decipher_only=False,
    )


def _der_utf8_string(text: str) -> bytes:
    body = text.encode("utf-8")
    if len(body) < 0x80:
        return bytes((0x0C, len(body))) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes((0x0C, 0x80 | len(size))) + size + body
