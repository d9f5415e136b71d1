"""A program's pass artwork besides the logo: the strip photo behind the balance and the
icon a stamp card's stamps show. Checked in full when uploaded, like the logo
(``app.merchants.logos``), so that every pass can draw them; removing one returns the
passes to the drawn default.

Invariants: what is stored is a PNG or JPEG within its kind's pixel sizes and bytes,
whose every pixel decodes through the same ``passes.apple`` code that draws it; every
change bumps the program's design version and marks all its passes changed, in the one
commit at the end of each use case; a refused upload changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from PIL import Image
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.merchants.models import Program
from app.merchants.service import touch_program_passes
from passes.apple import validate_logo, validate_stamp_icon, validate_strip

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
MAX_SIDE = 4096


@dataclass(frozen=True)
class ArtworkKind:
    """What an upload of one kind must be: its name in messages, its smallest size in
    pixels, its largest in bytes, and the check that draws it."""

    name: str
    min_size: tuple[int, int]
    max_bytes: int
    validate: Callable[[bytes], None]


LOGO = ArtworkKind("logo", (16, 16), 2 * 1024 * 1024, validate_logo)
# A strip is 375×123 points: anything smaller is blurred even on the oldest phones;
# 1125×369 pixels is sharp on every one.
STRIP = ArtworkKind("strip photo", (375, 123), 5 * 1024 * 1024, validate_strip)
STAMP_ICON = ArtworkKind("stamp icon", (16, 16), 1024 * 1024, validate_stamp_icon)


def checked_image(image: bytes, kind: ArtworkKind) -> str:
    """The media type of an upload of ``kind``; raises Invalid (422, the body named) with
    a sentence for the uploader when it is not one.

    The size is read from the header first, then the whole image is decoded: a header and
    checksums that are right around image data that is not (which ``verify`` lets
    through) would otherwise break every pass.
    """
    name = kind.name
    if not image:
        _refuse(f"Send the {name} image (PNG or JPEG) as the request body.")
    if len(image) > kind.max_bytes:
        _refuse(f"The {name} may be at most {kind.max_bytes // (1024 * 1024)} MiB.")
    try:
        with Image.open(io.BytesIO(image)) as picture:  # reads the header only
            picture_format = picture.format or ""
            width, height = picture.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        _refuse(f"The {name} is not a readable PNG or JPEG image.")
    if picture_format not in IMAGE_FORMATS:
        _refuse(f"The {name} must be a PNG or JPEG image.")
    min_width, min_height = kind.min_size
    if not (min_width <= width <= MAX_SIDE and min_height <= height <= MAX_SIDE):
        if min_width == min_height:
            _refuse(f"The {name} must be between {min_width} and {MAX_SIDE} pixels on each "
                    "side.")
        _refuse(f"The {name} must be at least {min_width}×{min_height} pixels, and at most "
                f"{MAX_SIDE} on each side.")
    try:
        kind.validate(image)  # decodes every pixel, as drawing the passes will
    except ValueError as error:
        _refuse(str(error))
    return IMAGE_FORMATS[picture_format]


def set_strip(session: Session, *, program: Program, image: bytes | None) -> None:
    """Store the strip photo (None removes it); the passes are redrawn with it."""
    content_type = checked_image(image, STRIP) if image is not None else None
    if image is None and program.strip_image is None:
        return
    program.strip_image, program.strip_content_type = image, content_type
    _redraw(session, program)


def set_stamp_icon(session: Session, *, program: Program, image: bytes | None) -> None:
    """Store the stamp icon (None removes it); the passes are redrawn with it."""
    content_type = checked_image(image, STAMP_ICON) if image is not None else None
    if image is None and program.stamp_icon is None:
        return
    program.stamp_icon, program.stamp_icon_content_type = image, content_type
    _redraw(session, program)


def _redraw(session: Session, program: Program) -> None:
    program.design_version += 1
    touch_program_passes(session, program=program)
    session.commit()


def _refuse(message: str) -> NoReturn:
    raise Invalid(message, errors=[{"field": "(body)", "message": message}])
