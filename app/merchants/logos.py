"""A program's logo: checked in full when uploaded, so that every pass can draw it.

Invariant: a logo stored by ``set_logo`` is a PNG or JPEG of 16 to 4096 pixels a side
whose every pixel decodes (``passes.apple.validate_logo``, the same code that draws it).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.merchants.artwork import LOGO, checked_image
from app.merchants.models import Program
from app.merchants.service import touch_program_passes


def set_logo(session: Session, *, program: Program, image: bytes) -> None:
    """Store a PNG or JPEG logo; the passes' artwork is redrawn from it (checked as every
    upload of artwork is: ``app.merchants.artwork.checked_image``)."""
    content_type = checked_image(image, LOGO)
    program.logo = image
    program.logo_content_type = content_type
    program.design_version += 1
    touch_program_passes(session, program=program)
    session.commit()
