"""The .pkpass: manifest, signature, zip layout, determinism and the design cache."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passes.apple import (
    CardTail,
    DevelopmentChain,
    PassCard,
    PassDesign,
    PassPackager,
    SigningIdentity,
    build_pass_json,
    load_signing_identity,
    prepare_design,
)
from passes.apple import package as package_module
from passes.apple import packager as packager_module
from passes.apple.package import card_tail, tail_with_certificates, tail_without_certificates
from passes.apple.passjson import serialize_pass_json

CheckManifest = Callable[[Mapping[str, bytes]], list[str]]
ReadPackage = Callable[[bytes], dict[str, bytes]]
MakeDesign = Callable[..., PassDesign]
# A real pass signed through Apple's WWDR chain, the checker's positive control. The
# repository ships none (a real pass is its issuer's): name one to run the check.
REFERENCE_VARIABLE = "LOYALPASS_TEST_REFERENCE_PASS"
_END_RECORD_SIZE = 22  # a zip's end of central directory record without a comment

EXPECTED_FILES = {
    "pass.json",
    "manifest.json",
    "signature",
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "logo@3x.png",
    "strip.png",
    "strip@2x.png",
    "strip@3x.png",
    "en.lproj/pass.strings",
    "ru.lproj/pass.strings",
    "uk.lproj/pass.strings",
}


@pytest.fixture
def packager(identity: SigningIdentity) -> PassPackager:
    return PassPackager(identity)


@pytest.fixture
def package(packager: PassPackager, card: PassCard, design: PassDesign) -> bytes:
    return packager.package(card, design)


def test_package_holds_exactly_the_expected_files(
    package: bytes, read_package: ReadPackage
) -> None:
    assert set(read_package(package)) == EXPECTED_FILES


def test_every_file_is_in_the_manifest_with_its_hash_and_nothing_else(
    package: bytes, read_package: ReadPackage, check_manifest: CheckManifest
) -> None:
    files = read_package(package)
    assert check_manifest(files) == []
    listed = set(json.loads(files["manifest.json"]))
    assert listed == EXPECTED_FILES - {"manifest.json", "signature"}


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda files: files.update({"icon.png": b"changed"}), "icon.png does not match"),
        (lambda files: files.pop("logo.png"), "logo.png is listed but missing"),
        (lambda files: files.update({"extra.png": b"x"}), "extra.png is not in the manifest"),
    ],
    ids=["changed", "missing", "unlisted"],
)
def test_manifest_checker_catches_a_tampered_package(
    package: bytes,
    read_package: ReadPackage,
    check_manifest: CheckManifest,
    tamper: Callable[[dict[str, bytes]], Any],
    problem: str,
) -> None:
    files = read_package(package)
    tamper(files)
    assert any(problem in found for found in check_manifest(files))


def test_manifest_checker_accepts_apples_reference_pass(
    read_package: ReadPackage, check_manifest: CheckManifest
) -> None:
    reference = Path(os.environ.get(REFERENCE_VARIABLE, "")).expanduser()
    if not os.environ.get(REFERENCE_VARIABLE) or not reference.is_file():
        pytest.skip(f"no Apple-signed reference pass: set {REFERENCE_VARIABLE} to the path of "
                    "a .pkpass that Wallet accepts (the repository ships none)")
    files = read_package(reference.read_bytes())
    assert check_manifest(files) == []
    assert json.loads(files["pass.json"])["formatVersion"] == 1


def test_package_signature_verifies_against_the_development_root(
    package: bytes,
    read_package: ReadPackage,
    chain: DevelopmentChain,
    verify_with_openssl: Callable[..., Any],
) -> None:
    files = read_package(package)
    result = verify_with_openssl(
        signature=files["signature"], content=files["manifest.json"], root_pem=chain.root_pem
    )
    assert result.returncode == 0, result.stderr


def test_pass_json_in_the_package_is_the_compact_build_pass_json(
    package: bytes,
    read_package: ReadPackage,
    card: PassCard,
    design: PassDesign,
    identity: SigningIdentity,
) -> None:
    expected = serialize_pass_json(build_pass_json(card, design, identity))
    assert read_package(package)["pass.json"] == expected
    compact = json.dumps(json.loads(expected), separators=(",", ":"), ensure_ascii=False)
    assert compact.encode() == expected


def test_json_and_strings_are_deflated_and_the_rest_stored(package: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            stored = not info.filename.endswith((".strings", ".json"))
            expected = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            assert info.compress_type == expected, info.filename
            assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_info_zip_reads_the_package(package: bytes, tmp_path: Path) -> None:
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("unzip is not installed")
    path = tmp_path / "card.pkpass"
    path.write_bytes(package)
    result = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


def test_same_inputs_give_the_same_package_apart_from_the_signature(
    identity: SigningIdentity, card: PassCard, make_design: MakeDesign, read_package: ReadPackage
) -> None:
    first = PassPackager(identity).package(card, make_design())
    second = PassPackager(identity).package(card, make_design())
    first_files, second_files = read_package(first), read_package(second)
    first_files.pop("signature"), second_files.pop("signature")
    assert first_files == second_files
    with zipfile.ZipFile(io.BytesIO(first)) as one, zipfile.ZipFile(io.BytesIO(second)) as two:
        assert [i.filename for i in one.infolist()] == [i.filename for i in two.infolist()]


def test_card_changes_reach_pass_json_and_manifest_only(
    packager: PassPackager,
    card: PassCard,
    design: PassDesign,
    make_card: Callable[..., PassCard],
    read_package: ReadPackage,
) -> None:
    before = read_package(packager.package(card, design))
    after = read_package(packager.package(make_card(balance=121), design))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"pass.json", "manifest.json", "signature"}
    assert json.loads(after["pass.json"])["storeCard"]["primaryFields"][0]["value"] == 121


def test_a_stamp_changes_the_strip_and_the_next_step_of_a_stamp_card_and_nothing_else(
    packager: PassPackager,
    make_card: Callable[..., PassCard],
    make_design: MakeDesign,
    read_package: ReadPackage,
) -> None:
    design = make_design(kind="stamps", stamps_required=8)
    before = read_package(packager.package(make_card(stamps=3), design))
    after = read_package(packager.package(make_card(stamps=4), design))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"pass.json", "manifest.json", "signature", "strip.png", "strip@2x.png",
                       "strip@3x.png", "en.lproj/pass.strings", "ru.lproj/pass.strings",
                       "uk.lproj/pass.strings"}


def test_a_stamps_design_draws_its_icon_and_logo_once_and_each_strip_once(
    monkeypatch: pytest.MonkeyPatch, identity: SigningIdentity,
    make_card: Callable[..., PassCard], make_design: MakeDesign,
) -> None:
    marks: list[str] = []
    strips: list[int | None] = []
    real_marks, real_strip = package_module.render_marks, package_module.render_strip

    def counting_marks(design: PassDesign) -> dict[str, bytes]:
        marks.append(design.design_key)
        return real_marks(design)

    def counting_strip(design: PassDesign, variant: int | None) -> dict[str, bytes]:
        strips.append(variant)
        return real_strip(design, variant)

    monkeypatch.setattr(package_module, "render_marks", counting_marks)
    monkeypatch.setattr(package_module, "render_strip", counting_strip)
    packager = PassPackager(identity)
    design = make_design(kind="stamps", stamps_required=8)
    for stamps in (0, 3, 3, 0, 7, 3, 12):  # 12 of 8 (the card outgrew its size) shows 8
        packager.package(make_card(stamps=stamps), design)
    assert marks == [design.design_key]
    assert strips == [0, 3, 7, 8]


def test_encrypted_key_identity_builds_verifiable_packages(
    encrypted_chain: DevelopmentChain,
    key_password: bytes,
    card: PassCard,
    design: PassDesign,
    read_package: ReadPackage,
    verify_with_openssl: Callable[..., Any],
) -> None:
    identity = load_signing_identity(
        certificate_pem=encrypted_chain.certificate_pem,
        private_key_pem=encrypted_chain.private_key_pem,
        wwdr_pem=encrypted_chain.wwdr_pem,
        password=key_password,
    )
    files = read_package(PassPackager(identity).package(card, design))
    result = verify_with_openssl(
        signature=files["signature"],
        content=files["manifest.json"],
        root_pem=encrypted_chain.root_pem,
    )
    assert result.returncode == 0, result.stderr


def test_the_zip_directory_agrees_with_every_local_record(package: bytes) -> None:
    """Offsets, sizes and CRCs of the central directory match the local records,
    which is what strict readers (and Wallet) check, not just Python's zipfile."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        infos = archive.infolist()
        assert len({info.filename for info in infos}) == len(infos)
        for info in infos:
            header = package[info.header_offset : info.header_offset + 30]
            assert header[:4] == b"PK\x03\x04"
            method, crc, compressed, size = struct.unpack("<H4xLLL", header[8:26])
            assert (method, crc, compressed, size) == (
                info.compress_type, info.CRC, info.compress_size, info.file_size)
            assert archive.read(info)  # inflates and checks the CRC


def test_a_cards_part_kept_without_certificates_joins_into_the_package_it_was_cut_from(
    packager: PassPackager,
    card: PassCard,
    design: PassDesign,
    read_package: ReadPackage,
    check_manifest: CheckManifest,
    chain: DevelopmentChain,
    verify_with_openssl: Callable[..., Any],
) -> None:
    prepared = packager.prepared(design, stamps=card.stamps)
    whole = card_tail(card, prepared, packager.identity)
    kept, certificates = tail_without_certificates(whole)
    assert len(kept.entries) < len(whole.entries) - 1500  # the two certificates
    assert kept.directory[:-_END_RECORD_SIZE] != whole.directory[:-_END_RECORD_SIZE]
    assert tail_with_certificates(kept, certificates) == whole  # byte for byte

    package = packager.join(packager.tail(card, design), design, stamps=card.stamps)
    test_the_zip_directory_agrees_with_every_local_record(package)
    files = read_package(package)
    assert check_manifest(files) == []
    assert verify_with_openssl(signature=files["signature"], content=files["manifest.json"],
                               root_pem=chain.root_pem).returncode == 0
    assert files.keys() == read_package(packager.package(card, design)).keys()
    with pytest.raises(ValueError, match="ending with its signature"):
        tail_with_certificates(CardTail(kept.design_digest, kept.entries, b"PK"), certificates)


def test_prepared_design_files_carry_their_sha1(design: PassDesign) -> None:
    prepared = prepare_design(design)
    assert [file.name for file in prepared.files] == sorted(file.name for file in prepared.files)
    for file in prepared.files:
        assert hashlib.sha1(file.data).hexdigest() == file.sha1


def test_packager_prepares_a_design_once_and_reuses_it(
    packager: PassPackager, design: PassDesign, make_design: MakeDesign
) -> None:
    prepared = packager.prepared(design)
    assert packager.prepared(design) is prepared
    assert packager.prepared(make_design()) is prepared  # equal design, same key


def test_packager_reprepares_a_changed_design_under_the_same_key(
    packager: PassPackager, make_design: MakeDesign
) -> None:
    first = packager.prepared(make_design(logo_text="Old"))
    second = packager.prepared(make_design(logo_text="New"))
    assert second is not first
    assert second.design.logo_text == "New"


def test_packager_evicts_the_least_recently_used_design(
    identity: SigningIdentity, make_design: MakeDesign
) -> None:
    packager = PassPackager(identity, max_designs=2)
    one, two, three = (make_design(design_key=f"program-{n}-v1") for n in (1, 2, 3))
    first = packager.prepared(one)
    packager.prepared(two)
    assert packager.prepared(one) is first  # one is now the most recent
    packager.prepared(three)  # evicts two
    assert packager.prepared(one) is first
    assert packager.prepared(two) is not None
    with pytest.raises(ValueError):
        PassPackager(identity, max_designs=0)


def test_concurrent_requests_prepare_a_design_once(
    monkeypatch: pytest.MonkeyPatch,
    identity: SigningIdentity,
    card: PassCard,
    design: PassDesign,
    read_package: ReadPackage,
    check_manifest: CheckManifest,
) -> None:
    calls: list[str] = []
    real_prepare = package_module.prepare_design

    def counting_prepare(design: PassDesign, **options: Any) -> Any:
        calls.append(design.design_key)
        return real_prepare(design, **options)

    monkeypatch.setattr(packager_module, "prepare_design", counting_prepare)
    packager = PassPackager(identity)
    start = threading.Barrier(8)
    results: list[bytes] = []

    def build() -> None:
        start.wait()
        results.append(packager.package(card, design))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [design.design_key]
    assert len(results) == 8
    assert all(check_manifest(read_package(result)) == [] for result in results)


def test_corrupt_logo_fails_preparation_with_a_clear_error(
    packager: PassPackager, make_design: MakeDesign, card: PassCard
) -> None:
    with pytest.raises(ValueError, match="not a readable PNG or JPEG"):
        packager.package(card, make_design(logo=b"GIF89a not really"))


@pytest.fixture(scope="module")
def shared_packager(identity: SigningIdentity) -> PassPackager:
    return PassPackager(identity)


@settings(max_examples=25, deadline=None)
@given(
    holder_name=st.text(max_size=40),
    balance=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    tier=st.none() | st.text(max_size=20),
    offers=st.lists(st.dictionaries(st.sampled_from(["en", "ru", "uk"]), st.text(max_size=30)),
                    max_size=4).map(tuple),
)
def test_any_card_makes_a_consistent_package(
    shared_packager: PassPackager,
    make_card: Callable[..., PassCard],
    make_design: MakeDesign,
    read_package: ReadPackage,
    check_manifest: CheckManifest,
    holder_name: str,
    balance: int,
    tier: str | None,
    offers: tuple[dict[str, str], ...],
) -> None:
    card = make_card(holder_name=holder_name, balance=balance, tier=tier, offers=offers)
    design = make_design()
    files = read_package(shared_packager.package(card, design))
    assert check_manifest(files) == []
    document = json.loads(files["pass.json"])
    assert document["storeCard"]["primaryFields"][0]["value"] == balance
    expected = build_pass_json(card, design, shared_packager.identity)
    assert document == json.loads(serialize_pass_json(expected))
