"""Where Wallet puts things on the front of a store card, as far as artwork needs to know.

Wallet draws the front itself; what a pass controls is the size of its images and which
fields it fills. Two decisions depend on how much room text takes, and both are made
here, once per design, so that the artwork (``images``), the fields (``passjson``) and
the reviewer's picture of the front (``preview``) agree:

- the logo's box: a logo is shown at its own size up to Apple's 160×50 points, and the
  wider it is the less room ``logoText`` keeps; the box leaves the program's name (and a
  header field, when there is one) its full width, so that a long name such as
  "Кавʼярня «Зерно на Подолі»" is not cut to "Кавʼярня …";
- whether the tier fits in the header beside that name; when it does not, it goes to the
  row of fields under the strip instead.

Text is measured with DejaVu Sans Condensed, which runs a little wider than Wallet's San
Francisco at the same size, so a name found to fit here fits on the phone too. Without
that font, widths are estimated generously from the number of characters.

Geometry is in points on a pass as wide as its strip (375). Pure: no I/O but reading the
system font.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from passes.apple.model import PassDesign

PASS_WIDTH = 375
MARGIN = 12  # the pass's inner margin on every side
GAP = 8  # between neighbouring things in one row
HEADER_HEIGHT = 62  # the top row: logo, logoText, header fields
LOGO_MAX = (160, 50)  # Apple's documented largest logo, in points
LOGO_MIN_WIDTH = 36  # narrower than this a logo stops being recognisable
MONOGRAM_SIZE = 40  # the drawn monogram when no logo is uploaded
STRIP_SIZE = (375, 123)  # Apple's strip for store cards, in points

LOGO_TEXT_SIZE = 17
LABEL_SIZE = 11
VALUE_SIZE = 17
PRIMARY_VALUE_SIZE = 40
PRIMARY_LABEL_SIZE = 12

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR_FONT = "DejaVuSansCondensed.ttf"
BOLD_FONT = "DejaVuSansCondensed-Bold.ttf"
_ESTIMATED_EM_SHARE = 0.62  # character width as a share of the size, without the font


@lru_cache(maxsize=64)
def font(size: float, *, bold: bool = False) -> ImageFont.FreeTypeFont | None:
    """The measuring (and preview) font at ``size``, or None when it is not installed."""
    try:
        return ImageFont.truetype(str(FONT_DIR / (BOLD_FONT if bold else REGULAR_FONT)), size)
    except OSError:
        return None


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """How wide ``text`` runs at ``size`` points."""
    measured = font(size, bold=bold)
    if measured is None:
        return len(text) * size * _ESTIMATED_EM_SHARE
    return float(measured.getlength(text))


def label_width(text: str) -> float:
    """Labels show in capitals, in the label size."""
    return text_width(text.upper(), LABEL_SIZE)


def tier_header_width(design: PassDesign) -> float:
    """The width the tier's header field needs: its widest name, or its label in the
    widest of the design's languages (Wallet shows the label in the phone's)."""
    widest_label = max(label_width(design.labels[locale].tier) for locale in design.locales)
    widest = max((text_width(name, VALUE_SIZE) for name in design.tier_names), default=0.0)
    return max(widest_label, widest)


def logo_text_width(design: PassDesign) -> float:
    return text_width(design.logo_text.strip(), LOGO_TEXT_SIZE, bold=True)


def tier_in_header(design: PassDesign) -> bool:
    """Whether the design's widest tier fits in the header beside a logo and the name.
    Measured when a design is prepared (not cached here: a design holds its images)."""
    if not design.tier_names:
        return False
    return _logo_room(design, header=tier_header_width(design) + GAP) >= LOGO_MIN_WIDTH


def logo_box(design: PassDesign) -> tuple[int, int]:
    """The largest box, in points, that the logo may fill without crowding the name."""
    if not design.logo_text.strip():
        return LOGO_MAX
    header = tier_header_width(design) + GAP if tier_in_header(design) else 0.0
    room = math.floor(_logo_room(design, header=header))
    return max(LOGO_MIN_WIDTH, min(LOGO_MAX[0], room)), LOGO_MAX[1]


def _logo_room(design: PassDesign, *, header: float) -> float:
    return PASS_WIDTH - 2 * MARGIN - GAP - logo_text_width(design) - header


def primary_reserve(design: PassDesign) -> float:
    """How much of the strip's left the primary field takes on a stamps card: the widest
    count it can show ("8/8") and room to breathe. The stamp grid keeps to the rest."""
    required = design.stamps_required or 1
    widest = text_width(f"{required}/{required}", PRIMARY_VALUE_SIZE)
    return MARGIN + widest + 2 * GAP


def stamp_area(design: PassDesign) -> tuple[float, float, float, float]:
    """The part of the strip (left, top, right, bottom, in points) the stamps are drawn in."""
    width, height = STRIP_SIZE
    left = min(primary_reserve(design), width * 0.5)
    return left, 10.0, width - MARGIN, height - 10.0
