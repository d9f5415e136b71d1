"""The .pkpass package: per-design preparation and the per-card build.

A design's images, pass.strings files, their SHA-1s, the static part of the
manifest and a zip holding the images are computed once
(:func:`prepare_design`); on a stamp card the strip shows the card's stamps, so
that is once per design and number of stamps shown, the icon, logo and strings
still once per design (:func:`prepare_parts`). Building one card's package then costs one JSON
serialization, one SHA-1, one signature and three more zip entries after the
prepared ones, plus the strings files: the design's, already deflated and hashed, for a
card that says nothing of its own; rewritten with the card's phrases (a stamp card's next
step, its offers' titles: :func:`~passes.apple.strings.card_phrases`) for one that does.

A card's own part of the zip (its entries after the design's, its central-directory records
and the end record: :class:`CardTail`) can be kept apart from the design's and joined to it
later (:func:`join_package`), for example signed ahead of the download; its ``design_digest``
names the prepared design's bytes it was made after, so it is joined to no other. Kept, it
need not carry the certificates inside its signature (most of its bytes, the same for
every card): :func:`tail_without_certificates` takes them out, adjusting the signature's
zip records, and :func:`tail_with_certificates` puts them back, byte for byte.

Zip layout: the JSON files (pass.json, manifest.json) and the .strings files
deflated; PNGs and the DER signature stored (deflate gains nothing on them).
Timestamps and attributes are fixed, so the same inputs give the same bytes
apart from the signature's signing time.

Why the card's three entries are not written with zipfile: the design's files
are zipped by zipfile once, but per card zipfile re-creates every record of
the central directory and deflates with a fresh 256 KiB zlib state per entry,
which the allocator hands back to the system and faults in again each time;
together that cost as much as half a signature. The per-card tail (three local
records, their central-directory records and the end record) is therefore
written here, after zipfile's own bytes for the design's entries and central
directory, with a deflate state sized for files of a few kilobytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from passes.apple.identity import SigningIdentity
from passes.apple.images import render_marks, render_strip, strip_variant
from passes.apple.model import PassCard, PassDesign
from passes.apple.passjson import (
    FrontPlan,
    card_part,
    design_members,
    front_plan,
    serialize_with_design_part,
)
from passes.apple.signing import sign_manifest, split_certificates, with_certificates
from passes.apple.strings import (
    Phrases,
    card_phrases,
    design_phrases,
    extend_strings,
    render_strings,
    strings_keys,
)

PASS_JSON = "pass.json"  # noqa: S105 (a file name, not a password)
MANIFEST = "manifest.json"
SIGNATURE = "signature"
MEDIA_TYPE = "application/vnd.apple.pkpass"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest zip date: no build time leaks in
_UNIX = 3
_FILE_MODE = 0o644 << 16


@dataclass(frozen=True)
class PreparedFile:
    """A per-design file of the package with its manifest hash."""

    name: str
    data: bytes
    sha1: str


@dataclass(frozen=True)
class DeflatedFile:
    """A file written per card that is often the same: its name, bytes, hash, size, CRC
    and deflated bytes, so a card that shares it only copies them."""

    name: str
    data: bytes
    sha1: str
    size: int
    crc: int
    body: bytes


@dataclass(frozen=True, eq=False)
class DesignParts:
    """What every card of a design shares, whatever its strip: the icon and logo
    files and the pass.strings files (with their hashes), the localizable texts and the
    serialized card-independent members of pass.json."""

    design: PassDesign
    files: tuple[PreparedFile, ...]
    phrases: Phrases
    pass_json_members: bytes
    plan: FrontPlan
    strings: tuple[DeflatedFile, ...]
    strings_keys: frozenset[str]


@dataclass(frozen=True, eq=False)
class PreparedDesign:
    """Everything about a package that depends only on the design (and, on a stamp
    card, on how many stamps its strip shows: ``variant``).

    ``files`` are the images and pass.strings files sorted by name;
    ``phrases`` the design's localizable texts; ``pass_json_members`` the
    serialized card-independent members of pass.json; ``plan`` what the design decides
    about every front (measured once); ``manifest_head`` the manifest's bytes up to the
    strings files' entries; ``archive_entries`` zipfile's local records of the images and
    ``archive_directory`` its central-directory records of them, from which each
    package's zip starts; ``strings`` the design's strings files, ready for the zip.
    """

    design: PassDesign
    files: tuple[PreparedFile, ...]
    phrases: Phrases
    pass_json_members: bytes
    manifest_head: bytes
    archive_entries: bytes
    archive_directory: bytes
    plan: FrontPlan
    strings: tuple[DeflatedFile, ...]
    strings_keys: frozenset[str]
    digest: str  # of the images' hashes and zip records: a card's tail fits these bytes only
    variant: int | None = None

    def file(self, name: str) -> PreparedFile:
        return next(prepared for prepared in self.files if prepared.name == name)


def prepare_parts(design: PassDesign) -> DesignParts:
    """Draw the icon and logo and write the strings of ``design``; slow, once per design.

    Raises ValueError when the design's logo is not a usable image.
    """
    phrases = design_phrases(design)
    strings = render_strings(phrases, design.locales)
    return DesignParts(design=design, files=_prepared_files({**render_marks(design), **strings}),
                       phrases=phrases, pass_json_members=design_members(design, phrases),
                       plan=front_plan(design), strings=_deflated_files(strings),
                       strings_keys=strings_keys(phrases, design.primary_locale))


def prepare_design(design: PassDesign, *, stamps: int = 0,
                   parts: DesignParts | None = None) -> PreparedDesign:
    """The design's files, with the strip of a card holding ``stamps``, zipped and hashed
    once for every card that shows them; slow. ``parts`` (from :func:`prepare_parts` for
    this design) saves drawing the icon and logo again.

    Raises ValueError when an image of the design is not usable.
    """
    if parts is None:
        parts = prepare_parts(design)
    variant = strip_variant(design, stamps)
    strip = _prepared_files(render_strip(design, variant))
    files = tuple(sorted((*parts.files, *strip), key=lambda item: item.name))
    strings = {item.name for item in parts.strings}
    images = [item for item in files if item.name not in strings]
    manifest_head = ("{" + "".join(_manifest_entry(item.name, item.sha1) for item in images)
                     ).encode("ascii")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in images:
            _write(archive, item.name, item.data, deflate=False)
        entries_end = buffer.tell()
    archive_bytes = buffer.getvalue()
    directory_end = len(archive_bytes) - _END_RECORD.size  # zipfile writes no comment
    archive_entries, archive_directory = (archive_bytes[:entries_end],
                                          archive_bytes[entries_end:directory_end])
    return PreparedDesign(
        design=design,
        files=files,
        phrases=parts.phrases,
        pass_json_members=parts.pass_json_members,
        manifest_head=manifest_head,
        archive_entries=archive_entries,
        archive_directory=archive_directory,
        plan=parts.plan,
        strings=parts.strings,
        strings_keys=parts.strings_keys,
        digest=hashlib.sha256(archive_entries + archive_directory + manifest_head).hexdigest(),
        variant=variant,
    )


def _prepared_files(contents: dict[str, bytes]) -> tuple[PreparedFile, ...]:
    return tuple(PreparedFile(name=name, data=data, sha1=_sha1(data))
                 for name, data in sorted(contents.items()))


def _deflated_files(contents: dict[str, bytes]) -> tuple[DeflatedFile, ...]:
    return tuple(DeflatedFile(name=name, data=data, sha1=_sha1(data), size=len(data),
                              crc=zlib.crc32(data), body=_deflate(data))
                 for name, data in sorted(contents.items()))


def _manifest_entry(name: str, sha1: str) -> str:
    return f"{json.dumps(name)}:{json.dumps(sha1)},"


@dataclass(frozen=True)
class CardTail:
    """A card's own bytes of its package, signed: its zip entries (the strings files,
    pass.json, manifest.json, signature), then its central-directory records with the
    end record; they follow the bytes of the prepared design whose ``digest`` is
    ``design_digest`` (:func:`join_package`)."""

    design_digest: str
    entries: bytes
    directory: bytes


def build_package(card: PassCard, prepared: PreparedDesign, identity: SigningIdentity) -> bytes:
    """The .pkpass bytes of ``card`` in a prepared design."""
    return join_package(prepared, card_tail(card, prepared, identity))


def join_package(prepared: PreparedDesign, tail: CardTail) -> bytes:
    """The .pkpass bytes of a card's tail after the design it was made for.

    Raises ValueError for a tail made after other design bytes (another design or
    version of the artwork, or another build of it): its manifest lists other images."""
    if tail.design_digest != prepared.digest:
        raise ValueError("the card's signed part was made for other design files")
    return b"".join([prepared.archive_entries, tail.entries, prepared.archive_directory,
                     tail.directory])


def card_tail(card: PassCard, prepared: PreparedDesign, identity: SigningIdentity) -> CardTail:
    """The card's own entries of its package in a prepared design, signed."""
    design = prepared.design
    extra = card_phrases(card, design)
    strings = prepared.strings
    if extra:
        strings = _deflated_files(extend_strings({item.name: item.data for item in strings},
                                                 prepared.strings_keys, extra, design.locales))
    document = card_part(card, design, identity, {**prepared.phrases, **extra}, prepared.plan)
    pass_json = serialize_with_design_part(document, prepared.pass_json_members)
    manifest = (prepared.manifest_head
                + "".join(_manifest_entry(item.name, item.sha1) for item in strings).encode()
                + f'{json.dumps(PASS_JSON)}:"{_sha1(pass_json)}"}}'.encode())
    tail = _ZipTail(len(prepared.archive_entries))
    for item in strings:
        tail.add_deflated(item)
    # Deflate before signing: the private-key operation evicts the CPU caches.
    tail.add(PASS_JSON, pass_json, deflate=True)
    tail.add(MANIFEST, manifest, deflate=True)
    tail.add(SIGNATURE, sign_manifest(manifest, identity), deflate=False)
    return tail.finish(prepared)


# Zip records (PKWARE APPNOTE 4.3.7, 4.3.12, 4.3.16), little-endian.
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_VERSION_NEEDED = 20  # deflate
_VERSION_MADE_BY = (_UNIX << 8) | _VERSION_NEEDED
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1  # 1980-01-01 00:00:00, as _ZIP_DATE
# A 4 KiB window and a small hash table: the files deflated per card are a few KiB,
# so this compresses them as well as the defaults with a fraction of the state. Level 1:
# on two-kilobyte JSON it is a fifth faster than 6 for 3% more bytes (30 of 950).
_LEVEL, _WINDOW_BITS, _MEMORY_LEVEL = 1, 12, 5


class _ZipTail:
    """The card's entries, appended after the design's, and the closing directory."""

    def __init__(self, offset: int) -> None:
        self._offset = offset
        self._entries: list[bytes] = []
        self._directory: list[bytes] = []

    def add(self, name: str, data: bytes, *, deflate: bool) -> None:
        self._add(name, len(data), zlib.crc32(data), _deflate(data) if deflate else data,
                  deflate=deflate)

    def add_deflated(self, file: DeflatedFile) -> None:
        self._add(file.name, file.size, file.crc, file.body, deflate=True)

    def _add(self, name: str, size: int, crc: int, body: bytes, *, deflate: bool) -> None:
        encoded = name.encode("ascii")
        method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        self._entries += [_local_header(encoded, method, crc, len(body), size), encoded, body]
        self._directory += [_central_record(encoded, method, crc, len(body), size,
                                            self._offset), encoded]
        self._offset += _LOCAL_HEADER.size + len(encoded) + len(body)

    def finish(self, prepared: PreparedDesign) -> CardTail:
        directory = b"".join(self._directory)
        count = len(prepared.files) - len(prepared.strings) + len(self._directory) // 2
        end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count,
                               len(prepared.archive_directory) + len(directory),
                               self._offset, 0)
        return CardTail(prepared.digest, b"".join(self._entries), directory + end)


def _local_header(name: bytes, method: int, crc: int, stored: int, size: int) -> bytes:
    return _LOCAL_HEADER.pack(b"PK\x03\x04", _VERSION_NEEDED, 0, method, _DOS_TIME, _DOS_DATE,
                              crc, stored, size, len(name), 0)


def _central_record(name: bytes, method: int, crc: int, stored: int, size: int,
                    offset: int) -> bytes:
    return _CENTRAL_HEADER.pack(b"PK\x01\x02", _VERSION_MADE_BY, _VERSION_NEEDED, 0, method,
                                _DOS_TIME, _DOS_DATE, crc, stored, size, len(name), 0, 0, 0,
                                0, _FILE_MODE, offset)


_SIGNATURE_NAME = SIGNATURE.encode("ascii")
# The signature is a tail's last entry: its central record ends the directory, before the
# end record (no comment).
_SIGNATURE_RECORD = _CENTRAL_HEADER.size + len(_SIGNATURE_NAME)


def tail_without_certificates(tail: CardTail) -> tuple[CardTail, bytes]:
    """``tail`` with a signature that carries no certificates, to keep, and the
    certificates field taken out (``passes.apple.signing.split_certificates``)."""
    taken = b""

    def split(signature: bytes) -> bytes:
        nonlocal taken
        bare, taken = split_certificates(signature)
        return bare

    return _with_signature(tail, split), taken


def tail_with_certificates(tail: CardTail, certificates: bytes) -> CardTail:
    """The tail ``tail_without_certificates`` made ``tail`` from, byte for byte, given
    the certificates field it took out."""
    return _with_signature(tail, lambda bare: with_certificates(bare, certificates))


def _with_signature(tail: CardTail, change: Callable[[bytes], bytes]) -> CardTail:
    """``tail`` with its signature (its last entry, stored) replaced by ``change(it)``:
    the entry's local header and central record rewritten, and the end record's offset of
    the directory moved by the difference in length."""
    end_at = len(tail.directory) - _END_RECORD.size
    record_at = end_at - _SIGNATURE_RECORD
    if record_at < 0:
        raise ValueError("not a card's tail ending with its signature")
    record = _CENTRAL_HEADER.unpack_from(tail.directory, record_at)
    method, stored, offset = record[4], record[8], record[16]
    if (record[0] != b"PK\x01\x02" or method != zipfile.ZIP_STORED or stored > len(tail.entries)
            or tail.directory[record_at + _CENTRAL_HEADER.size:end_at] != _SIGNATURE_NAME):
        raise ValueError("not a card's tail ending with its signature")
    body_at = len(tail.entries) - stored
    signature = change(tail.entries[body_at:])
    crc, size = zlib.crc32(signature), len(signature)
    header_at = body_at - _LOCAL_HEADER.size - len(_SIGNATURE_NAME)
    entries = b"".join([tail.entries[:header_at],
                        _local_header(_SIGNATURE_NAME, method, crc, size, size),
                        _SIGNATURE_NAME, signature])
    fields = list(_END_RECORD.unpack_from(tail.directory, end_at))
    fields[6] += size - stored  # where the central directory starts
    directory = b"".join([tail.directory[:record_at],
                          _central_record(_SIGNATURE_NAME, method, crc, size, size, offset),
                          _SIGNATURE_NAME, _END_RECORD.pack(*fields)])
    return CardTail(tail.design_digest, entries, directory)


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -_WINDOW_BITS, _MEMORY_LEVEL)
    return compressor.compress(data) + compressor.flush()


def _sha1(data: bytes) -> str:
    # SHA-1 is what Apple's manifest format specifies; the signature is SHA-256.
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, *, deflate: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.create_system = _UNIX
    info.external_attr = _FILE_MODE
    archive.writestr(info, data)
