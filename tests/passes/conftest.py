"""Fixtures for the ``passes.apple`` tests: certificate chains, designs, cards, checkers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passes.apple import (
    Colors,
    DevelopmentChain,
    PassCard,
    PassDesign,
    PassLocation,
    SigningIdentity,
    load_signing_identity,
    make_development_chain,
)
from tests.passes.sample_labels import sample_labels, sample_steps

REFERENCE_PASS = (
    Path(__file__).resolve().parents[3] / "shared/reference/apple-signed-storecard.pkpass"
)
KEY_PASSWORD = b"correct horse battery staple"


@pytest.fixture(scope="session")
def chain() -> DevelopmentChain:
    return make_development_chain()


@pytest.fixture(scope="session")
def other_chain() -> DevelopmentChain:
    """A second, unrelated development chain with the same names as ``chain``."""
    return make_development_chain()


@pytest.fixture(scope="session")
def encrypted_chain() -> DevelopmentChain:
    return make_development_chain(key_password=KEY_PASSWORD)


@pytest.fixture(scope="session")
def key_password() -> bytes:
    return KEY_PASSWORD


@pytest.fixture(scope="session")
def identity(chain: DevelopmentChain) -> SigningIdentity:
    return load_signing_identity(
        certificate_pem=chain.certificate_pem,
        private_key_pem=chain.private_key_pem,
        wwdr_pem=chain.wwdr_pem,
    )


def design_with(**changes: Any) -> PassDesign:
    values: dict[str, Any] = {
        "design_key": "program-1-v1",
        "organization_name": "Кав'ярня Ромашка",
        "description": "Ромашка loyalty card",
        "logo_text": "Ромашка",
        "colors": Colors(background="#1E3A5F", foreground="#FFFFFF", label="#A0C4FF"),
        "barcode_format": "qr",
        "kind": "points",
        "stamps_required": None,
        "locales": ("en", "ru", "uk"),
        "web_service_url": "https://loyalpass.example/passkit",
        "locations": (PassLocation(latitude=50.4501, longitude=30.5234,
                                   relevant_texts={"en": "Hi!"}),),
        "texts": {
            "how_it_works": {"en": "Earn 5% back", "ru": "5% баллами", "uk": "5% балами"},
            "terms": {"en": "Points expire after a year.", "uk": "Бали згорають за рік."},
            "support": {"en": "hello@romashka.example"},
        },
    }
    values.update(changes)
    values.setdefault("labels", sample_labels(values["locales"]))
    if values["kind"] == "stamps":
        values.setdefault("reward_steps", sample_steps(values["stamps_required"],
                                                       values["locales"]))
    return PassDesign(**values)


def card_with(**changes: Any) -> PassCard:
    values: dict[str, Any] = {
        "serial_number": "8f2c3b1e-card-0001",
        "authentication_token": "tok_0123456789abcdef0123",
        "card_number": "4821 0000 1234",
        "barcode_message": "LP1:482100001234:sig",
        "holder_name": "Олена Петренко",
        "balance": 120,
        "tier": "Gold",
        "stamps": 3,
        "voided": False,
        "customer_url": "https://loyalpass.example/c/abc?x=1&y=2",
        "offers": ({"en": "Free coffee"}, {"en": "−10% on cakes"}),
    }
    values.update(changes)
    return PassCard(**values)


@pytest.fixture
def design() -> PassDesign:
    return design_with()


@pytest.fixture
def card() -> PassCard:
    return card_with()


@pytest.fixture(scope="session")
def make_design() -> Callable[..., PassDesign]:
    return design_with


@pytest.fixture(scope="session")
def make_card() -> Callable[..., PassCard]:
    return card_with


def unzip(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.fixture(scope="session")
def read_package() -> Callable[[bytes], dict[str, bytes]]:
    return unzip


def manifest_problems(files: Mapping[str, bytes]) -> list[str]:
    """What is wrong with a package's manifest: missing, mismatched or unlisted files."""
    if "manifest.json" not in files:
        return ["no manifest.json"]
    manifest: dict[str, str] = json.loads(files["manifest.json"])
    problems = []
    for name, digest in manifest.items():
        if name not in files:
            problems.append(f"{name} is listed but missing")
        elif hashlib.sha1(files[name]).hexdigest() != digest:
            problems.append(f"{name} does not match its SHA-1")
    unlisted = set(files) - set(manifest) - {"manifest.json", "signature"}
    problems.extend(f"{name} is not in the manifest" for name in sorted(unlisted))
    for name in ("manifest.json", "signature"):
        if name in manifest:
            problems.append(f"{name} must not be in the manifest")
    return problems


@pytest.fixture(scope="session")
def check_manifest() -> Callable[[Mapping[str, bytes]], list[str]]:
    return manifest_problems


def openssl_verify(
    directory: Path, *, signature: bytes, content: bytes, root_pem: bytes
) -> subprocess.CompletedProcess[str]:
    """``openssl cms -verify`` of a detached signature, the chain checked up to ``root_pem``.

    ``-purpose any`` because pass certificates carry Apple's own EKU; no
    ``-certfile`` because the WWDR intermediate must come from the signature.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    (directory / "signature").write_bytes(signature)
    (directory / "manifest.json").write_bytes(content)
    (directory / "root.pem").write_bytes(root_pem)
    command = [openssl, "cms", "-verify", "-binary", "-purpose", "any", "-inform", "DER"]
    command += ["-in", "signature", "-content", "manifest.json", "-CAfile", "root.pem"]
    command += ["-out", os.devnull]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)


@pytest.fixture
def verify_with_openssl(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def verify(
        *, signature: bytes, content: bytes, root_pem: bytes
    ) -> subprocess.CompletedProcess[str]:
        return openssl_verify(tmp_path, signature=signature, content=content, root_pem=root_pem)

    return verify


def parse_strings(data: bytes) -> dict[str, str]:
    """A deliberately small .strings parser: BOM-marked UTF-16, ``"k" = "v";`` lines."""
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff"), "pass.strings must start with a UTF-16 BOM"
    text = data.decode("utf-16")
    entries: dict[str, str] = {}
    position = 0

    def literal() -> str:
        nonlocal position
        assert text[position] == '"', f"expected a quote at {position}"
        position += 1
        out = []
        while text[position] != '"':
            char = text[position]
            if char == "\\":
                code = text[position + 1]
                if code == "U":
                    out.append(chr(int(text[position + 2 : position + 6], 16)))
                    position += 6
                    continue
                out.append({"n": "\n", "r": "\r", "t": "\t"}.get(code, code))
                position += 2
                continue
            out.append(char)
            position += 1
        position += 1
        return "".join(out)

    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        key = literal()
        assert text[position : position + 3] == " = ", "expected ' = '"
        position += 3
        value = literal()
        assert text[position] == ";", "expected ';'"
        position += 1
        assert key not in entries, f"duplicate key {key!r}"
        entries[key] = value
    return entries


@pytest.fixture(scope="session")
def read_strings() -> Callable[[bytes], dict[str, str]]:
    return parse_strings


@dataclass
class CustomChain:
    """A hand-made chain for the failures the development chain never has."""

    certificate_pem: bytes
    private_key_pem: bytes
    wwdr_pem: bytes
    root_pem: bytes


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def build_chain(
    *,
    leaf_attributes: Iterable[x509.NameAttribute[Any]] | None = None,
    leaf_start: datetime | None = None,
    leaf_days: int = 365,
    wwdr_start: datetime | None = None,
    wwdr_days: int = 3650,
    wwdr_name: str = "Test WWDR",
) -> CustomChain:
    """An EC chain root -> wwdr -> leaf with adjustable names and validity."""
    now = datetime.now(UTC) - timedelta(hours=1)
    root_key, wwdr_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Root")])
    wwdr_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wwdr_name)])
    if leaf_attributes is None:
        leaf_attributes = [
            x509.NameAttribute(NameOID.USER_ID, "pass.test.custom"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Pass Type ID: pass.test.custom"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "TEAMCUSTOM"),
        ]

    def issue(
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        issuer_key: ec.EllipticCurvePrivateKey,
        start: datetime,
        days: int,
        ca: bool,
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    root = issue(root_name, root_key, root_name, root_key, now, 3650, True)
    wwdr = issue(wwdr_subject, wwdr_key, root_name, root_key, wwdr_start or now, wwdr_days, True)
    leaf_name = x509.Name(list(leaf_attributes))
    leaf = issue(leaf_name, leaf_key, wwdr_subject, wwdr_key, leaf_start or now, leaf_days, False)
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return CustomChain(
        certificate_pem=_pem(leaf),
        private_key_pem=key_pem,
        wwdr_pem=_pem(wwdr),
        root_pem=_pem(root),
    )


@pytest.fixture(scope="session")
def make_chain() -> Callable[..., CustomChain]:
    return build_chain
