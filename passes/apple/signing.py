"""The detached PKCS#7 signature over manifest.json.

Built with cryptography's ``PKCS7SignatureBuilder``: SHA-256, DER, detached,
binary (no line-ending translation, so the signature matches the manifest's
exact bytes). The builder adds the content-type, signing-time, message-digest
and S/MIME-capabilities attributes, the same set Apple's own signer uses; the
WWDR intermediate is added so a device can build the chain to Apple's root.

cryptography always stamps the current time. A caller-chosen signing time is
written by walking the builder's DER output just far enough to swap the
attribute's value and re-sign the attributes; nothing else is rebuilt.

A signature kept for later (a pass signed ahead of its download) need not carry the
certificates, the same in every signature of one identity and most of its bytes:
``split_certificates`` takes them out and ``with_certificates`` puts them back, byte for
byte (the signature covers the signed attributes, not the certificates).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from passes.apple.identity import PrivateKey, SigningIdentity

_OPTIONS = (pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary)
SIGNING_TIME_OID_DER = bytes.fromhex("06092a864886f70d010905")  # 1.2.840.113549.1.9.5


def sign_manifest(
    manifest: bytes, identity: SigningIdentity, *, signing_time: datetime | None = None
) -> bytes:
    """Detached PKCS#7 (DER) over ``manifest`` by the pass certificate, carrying the WWDR.

    The signing-time attribute is the current time, or ``signing_time``
    (timezone-aware) when given; giving it costs a second private-key operation,
    since cryptography stamps the current time and the attributes are re-signed.
    """
    # add_certificate must come last: in cryptography 48 add_signer and
    # set_data return builders that drop certificates added before them.
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(identity.certificate, identity.private_key, hashes.SHA256())
        .add_certificate(identity.wwdr)
        .sign(serialization.Encoding.DER, _OPTIONS)
    )
    if signing_time is None:
        return signature
    return _restamp(signature, identity.private_key, _der_time(signing_time))


def _der_time(moment: datetime) -> bytes:
    """A CMS Time: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5652)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signing_time must be a timezone-aware datetime")
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return _encode(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _encode(0x18, f"{moment.year:04d}{moment.strftime('%m%d%H%M%S')}Z".encode("ascii"))


# The structure rewritten below is fixed by the builder's own output:
# ContentInfo{oid, [0]{SignedData{version, digestAlgorithms, encapContentInfo,
# [0] certificates, signerInfos{SignerInfo{version, sid, digestAlgorithm,
# [0] signedAttrs, signatureAlgorithm, signature}}}}}
_SIGNED_DATA = (1, 0)
_CERTIFICATES = 3  # after version, digestAlgorithms and encapContentInfo


def _restamp(signature: bytes, key: PrivateKey, time_der: bytes) -> bytes:
    signed_data = _element_at(signature, _SIGNED_DATA)
    signer_infos_index = len(_children(signed_data)) - 1
    signer_path = (*_SIGNED_DATA, signer_infos_index, 0)
    signer_info = _children(_element_at(signature, signer_path))
    attrs_index = next(i for i, part in enumerate(signer_info) if part[0] == 0xA0)
    attributes = [_with_time(part, time_der) for part in _children(signer_info[attrs_index])]
    attributes.sort()  # DER orders a SET OF by encoding
    content = b"".join(attributes)
    signer_info[attrs_index] = _encode(0xA0, content)
    # The signature covers the attributes encoded as a SET, not as [0].
    signer_info[-1] = _encode(0x04, _sign(key, _encode(0x31, content)))
    return _replace_at(signature, signer_path, _encode(0x30, b"".join(signer_info)))


def split_certificates(signature: bytes) -> tuple[bytes, bytes]:
    """``signature`` without its certificates, and the SignedData's certificates field
    (``[0]``) as it was: ``with_certificates`` joins them again."""
    parts = _children(_element_at(signature, _SIGNED_DATA))
    if len(parts) <= _CERTIFICATES or parts[_CERTIFICATES][0] != 0xA0:
        raise ValueError("the PKCS#7 signature carries no certificates")
    field = parts.pop(_CERTIFICATES)
    return _replace_at(signature, _SIGNED_DATA, _encode(0x30, b"".join(parts))), field


def with_certificates(bare: bytes, certificates: bytes) -> bytes:
    """The signature ``split_certificates`` took ``certificates`` out of, byte for byte."""
    parts = _children(_element_at(bare, _SIGNED_DATA))
    if len(parts) != _CERTIFICATES + 1 or certificates[:1] != b"\xa0":
        raise ValueError("not a PKCS#7 signature without certificates, or not certificates")
    parts.insert(_CERTIFICATES, certificates)
    return _replace_at(bare, _SIGNED_DATA, _encode(0x30, b"".join(parts)))


def certificates_of(identity: SigningIdentity) -> bytes:
    """The certificates field every signature by ``identity`` carries."""
    return split_certificates(sign_manifest(b"{}", identity))[1]


def _with_time(attribute: bytes, time_der: bytes) -> bytes:
    oid = _children(attribute)[0]
    if oid != SIGNING_TIME_OID_DER:
        return attribute
    return _encode(0x30, oid + _encode(0x31, time_der))


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _header(data: bytes, position: int) -> tuple[int, int]:
    """(content start, content end) of the DER element starting at ``position``."""
    length = data[position + 1]
    start = position + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if data[position] & 0x1F == 0x1F or start + length > len(data):
        raise ValueError("unexpected DER in the PKCS#7 signature")
    return start, start + length


def _children(element: bytes) -> list[bytes]:
    start, end = _header(element, 0)
    parts: list[bytes] = []
    while start < end:
        _, child_end = _header(element, start)
        parts.append(element[start:child_end])
        start = child_end
    return parts


def _element_at(element: bytes, path: tuple[int, ...]) -> bytes:
    for index in path:
        element = _children(element)[index]
    return element


def _replace_at(element: bytes, path: tuple[int, ...], replacement: bytes) -> bytes:
    if not path:
        return replacement
    parts = _children(element)
    parts[path[0]] = _replace_at(parts[path[0]], path[1:], replacement)
    return _encode(element[0], b"".join(parts))


def _encode(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content
