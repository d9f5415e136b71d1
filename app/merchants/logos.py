"""A program's logo: checked in full when uploaded, so that every pass can draw it.

Invariant: a logo stored by ``set_logo`` is a PNG or JPEG of 16 to 4096 pixels a side
whose every pixel decodes (``passes.apple.validate_logo``, the same code that draws it).
"""

from __future__ import annotations

import io
from typing import NoReturn

from PIL import Image
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.merchants.models import Program
from app.merchants.service import touch_program_passes
from passes.apple import validate_logo

LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
MAX_LOGO_BYTES = 2 * 1024 * 1024


def set_logo(session: Session, *, program: Program, image: bytes) -> None:
    """Store a PNG or JPEG logo; the passes' artwork is redrawn from it.

    The whole image is decoded here, after its size is checked from its header, so that
    what is stored can be drawn: a header and checksums that are right around image data
    that is not (which ``verify`` lets through) would otherwise break every pass.
    """
    if not image:
        _bad_logo("Send the logo image (PNG or JPEG) as the request body.")
    if len(image) > MAX_LOGO_BYTES:
        _bad_logo("The logo may be at most 2 MiB.")
    try:
        with Image.open(io.BytesIO(image)) as picture:  # reads the header only
            picture_format = picture.format or ""
            width, height = picture.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        _bad_logo("The logo is not a readable PNG or JPEG image.")
    if picture_format not in LOGO_FORMATS:
        _bad_logo("The logo must be a PNG or JPEG image.")
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        _bad_logo("The logo must be between 16 and 4096 pixels on each side.")
    try:
        validate_logo(image)  # decodes every pixel, as drawing the passes will
    except ValueError as error:
        _bad_logo(str(error))
    program.logo = image
    program.logo_content_type = LOGO_FORMATS[picture_format]
    program.design_version += 1
    touch_program_passes(session, program=program)
    session.commit()


def _bad_logo(message: str) -> NoReturn:
    raise Invalid(message, errors=[{"field": "(body)", "message": message}])
