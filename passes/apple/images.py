"""Pass artwork drawn with Pillow: icon, logo and strip at 1x, 2x and 3x.

Each image has exactly Apple's documented canvas size for a store card. An
uploaded logo is fitted inside the canvas keeping its aspect ratio, on
transparent padding; without one, a monogram of the logo text's initial is
drawn. Drawing is slow (tens of milliseconds), so it happens once per design.
Output is deterministic: the same design gives the same PNG bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from passes.apple.layout import MONOGRAM_SIZE, STRIP_SIZE, logo_box
from passes.apple.model import PassDesign, hex_to_rgb
from passes.apple.stamps import draw_stamps, stamp_mark

ICON_SIZE = (29, 29)
LOGO_SIZE = (160, 50)  # Apple's largest logo; the drawn one is trimmed to its content
SCALES = (1, 2, 3)
MAX_LOGO_PIXELS = 40_000_000  # refuses decompression bombs long before Pillow's own limit
ACCEPTED_LOGO_FORMATS = ("PNG", "JPEG")
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

_SUPERSAMPLE = 4  # shapes are drawn large and scaled down for smooth edges
_ICON_RADIUS = 0.225  # corner radius as a share of the icon's side
_ICON_LOGO_SHARE = 0.72  # how much of the icon an uploaded logo may fill
_STRIP_SHADE = 0.08  # the strip runs from 8% lighter to 8% darker
_SCRIM_ALPHA = 0.7  # how much background colour covers a photo at its left edge
_SCRIM_REACH = 0.6  # the share of the strip's width the scrim fades over
_CIRCLE_ALPHA = 20  # of 255: the default strip's circles are barely there

RGB = tuple[int, int, int]
# What Pillow raises for unknown, truncated or hostile input.
_PILLOW_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    Image.DecompressionBombError,
)


def render_images(design: PassDesign, *, stamps: int = 0) -> dict[str, bytes]:
    """``{"icon.png": png, "icon@2x.png": png, ...}`` for the design, nine files in all;
    a stamps design's strip shows ``stamps`` collected."""
    return {**render_marks(design), **render_strip(design, strip_variant(design, stamps))}


def render_marks(design: PassDesign) -> dict[str, bytes]:
    """The icon and the logo at 1x, 2x and 3x: the same for every card of a design."""
    logo = load_logo(design.logo) if design.logo is not None else None
    background = hex_to_rgb(design.colors.background)
    foreground = hex_to_rgb(design.colors.foreground)
    initial = _initial(design.logo_text) or _initial(design.organization_name)
    box = logo_box(design)
    files: dict[str, bytes] = {}
    for scale in SCALES:
        suffix = _suffix(scale)
        if logo is not None:
            icon = _logo_icon(logo, background, scale)
            mark = _trimmed_logo(logo, box, scale)
        else:
            icon = _monogram_icon(initial, background, foreground, scale)
            mark = _monogram_logo(initial, background, foreground, min(box), scale)
        files[f"icon{suffix}.png"] = _png(icon)
        files[f"logo{suffix}.png"] = _png(mark)
    return files


def strip_variant(design: PassDesign, stamps: int) -> int | None:
    """Which strip a card with ``stamps`` shows: None on a points design (one strip for
    every card), else the number of stamps drawn filled (at most the card's size)."""
    if design.kind != "stamps":
        return None
    return max(0, min(stamps, design.stamps_required or 0))


def render_strip(design: PassDesign, variant: int | None) -> dict[str, bytes]:
    """The strip at 1x, 2x and 3x: the merchant's photo or the drawn background, and on
    a stamps design the card's stamps over it (``variant`` of them filled)."""
    photo = load_strip(design.strip) if design.strip is not None else None
    stamp = None
    if variant is not None:
        stamp = stamp_mark(design, load_stamp_icon(design.stamp_icon)
                           if design.stamp_icon is not None else None)
    files: dict[str, bytes] = {}
    for scale in SCALES:
        strip = _strip_base(design, photo, scale, decorated=variant is None)
        if variant is not None and stamp is not None:
            draw_stamps(strip, design, stamp, filled=variant, scale=scale,
                        panel=photo is not None)
        files[f"strip{_suffix(scale)}.png"] = _png(strip.convert("RGB"))
    return files


def load_logo(data: bytes) -> Image.Image:
    """The uploaded logo as RGBA, upright and trimmed of transparent borders.

    Raises ValueError with a message fit for the uploader when ``data`` is not a
    readable PNG or JPEG image.
    """
    return _load_picture(data, "logo", trim=True)


def load_strip(data: bytes) -> Image.Image:
    """The uploaded strip photo as RGBA, upright; ValueError as for a logo."""
    return _load_picture(data, "strip photo", trim=False)


def load_stamp_icon(data: bytes) -> Image.Image:
    """The uploaded stamp icon as RGBA, upright and trimmed; ValueError as for a logo."""
    return _load_picture(data, "stamp icon", trim=True)


def _load_picture(data: bytes, what: str, *, trim: bool) -> Image.Image:
    unreadable = f"The {what} is not a readable PNG or JPEG image."
    try:
        opened = Image.open(io.BytesIO(data), formats=ACCEPTED_LOGO_FORMATS)
    except _PILLOW_ERRORS:
        raise ValueError(unreadable) from None
    with opened:
        width, height = opened.size
        if width * height > MAX_LOGO_PIXELS:
            raise ValueError(
                f"The {what} is too large ({width}×{height} pixels); upload one under "
                "40 megapixels."
            )
        try:
            opened.load()
            image = ImageOps.exif_transpose(opened).convert("RGBA")
        except _PILLOW_ERRORS:
            raise ValueError(unreadable) from None
    box = image.getchannel("A").getbbox()
    if box is None:
        raise ValueError(f"The {what} is fully transparent, so there is nothing to show.")
    return image.crop(box) if trim else image


def validate_logo(data: bytes) -> None:
    """Raise ValueError (with a message for the uploader) unless ``data`` is a usable logo."""
    load_logo(data)


def validate_strip(data: bytes) -> None:
    """Raise ValueError (with a message for the uploader) unless ``data`` is a usable strip."""
    load_strip(data)


def validate_stamp_icon(data: bytes) -> None:
    """Raise ValueError (with a message for the uploader) unless ``data`` is a usable icon."""
    load_stamp_icon(data)


def _suffix(scale: int) -> str:
    return "" if scale == 1 else f"@{scale}x"


def _scaled(size: tuple[int, int], scale: int) -> tuple[int, int]:
    return size[0] * scale, size[1] * scale


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _initial(text: str) -> str:
    # upper() may lengthen a letter ("ß" -> "SS"); a monogram has one.
    return next((char.upper()[0] for char in text if char.isalnum()), "")


def _fit(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    ratio = min(box[0] / image.width, box[1] / image.height)
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _trimmed_logo(logo: Image.Image, box: tuple[int, int], scale: int) -> Image.Image:
    """The logo at its own shape inside ``box`` (points), with no transparent padding:
    Wallet gives ``logoText`` whatever width the logo image leaves."""
    ratio = min(box[0] / logo.width, box[1] / logo.height)
    width = max(1, round(logo.width * ratio))
    height = max(1, round(logo.height * ratio))
    return logo.resize((width * scale, height * scale), Image.Resampling.LANCZOS)


def _rounded_square(side: int, color: RGB) -> Image.Image:
    big = side * _SUPERSAMPLE
    shape = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    radius = round(big * _ICON_RADIUS)
    ImageDraw.Draw(shape).rounded_rectangle((0, 0, big - 1, big - 1), radius, fill=(*color, 255))
    return shape.resize((side, side), Image.Resampling.LANCZOS)


def _logo_icon(logo: Image.Image, background: RGB, scale: int) -> Image.Image:
    side = ICON_SIZE[0] * scale
    icon = _rounded_square(side, background)
    room = max(1, round(side * _ICON_LOGO_SHARE))
    fitted = _fit(logo, (room, room))
    icon.alpha_composite(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2))
    return icon


def _monogram_icon(initial: str, background: RGB, foreground: RGB, scale: int) -> Image.Image:
    side = ICON_SIZE[0] * scale
    icon = _rounded_square(side, background)
    glyph = _glyph(initial, side * _SUPERSAMPLE, foreground)
    icon.alpha_composite(glyph.resize((side, side), Image.Resampling.LANCZOS))
    return icon


def _monogram_logo(initial: str, background: RGB, foreground: RGB, room: int,
                   scale: int) -> Image.Image:
    side = min(MONOGRAM_SIZE, room) * scale
    big = side * _SUPERSAMPLE
    disc = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    inset = big // 32
    ImageDraw.Draw(disc).ellipse((inset, inset, big - inset, big - inset), fill=(*foreground, 255))
    disc.alpha_composite(_glyph(initial, big, background))
    return disc.resize((side, side), Image.Resampling.LANCZOS)


def _glyph(initial: str, side: int, color: RGB) -> Image.Image:
    """A square layer holding the initial, or a geometric mark when no font can draw it."""
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(side // 2)
    if font is not None and initial and _can_draw(font, initial):
        left, top, right, bottom = draw.textbbox((0, 0), initial, font=font)
        origin = ((side - (right - left)) / 2 - left, (side - (bottom - top)) / 2 - top)
        draw.text(origin, initial, font=font, fill=(*color, 255))
    else:
        # A ring: neutral, readable at 29 pixels, and needs no font.
        outer, width = side * 0.28, max(1, round(side * 0.07))
        centre = side / 2
        box = (centre - outer, centre - outer, centre + outer, centre + outer)
        draw.ellipse(box, outline=(*color, 255), width=width)
    return layer


def _font(size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:
        return None


def _can_draw(font: ImageFont.FreeTypeFont, char: str) -> bool:
    # A glyph the font lacks renders as its ".notdef" box; a private-use
    # character renders that same box, so equal masks mean "missing".
    return _rendered(font, char) != _rendered(font, "\U000f0000")


def _rendered(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    side = round(font.size * 2)
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text((0, 0), char, font=font, fill=255)
    return image.tobytes()


def _shade(color: RGB, amount: float) -> RGB:
    target = 255 if amount > 0 else 0
    share = abs(amount)
    red, green, blue = (round(part + (target - part) * share) for part in color)
    return red, green, blue


def _gradient(background: RGB, size: tuple[int, int]) -> Image.Image:
    width, height = size
    top, bottom = _shade(background, _STRIP_SHADE), _shade(background, -_STRIP_SHADE)
    column = Image.new("RGB", (1, height))
    last = max(1, height - 1)
    column.putdata(
        [
            tuple(round(a + (b - a) * row / last) for a, b in zip(top, bottom, strict=True))
            for row in range(height)
        ]
    )
    # Rows of one colour each compress to almost nothing in PNG.
    return column.resize((width, height), Image.Resampling.NEAREST)


def _strip_base(design: PassDesign, photo: Image.Image | None, scale: int, *,
                decorated: bool) -> Image.Image:
    """The strip's background: the merchant's photo, covering the strip and shaded
    towards the left where Wallet writes the primary field, or a gradient of the
    background colour (with two soft circles when no stamps are drawn on it)."""
    size = _scaled(STRIP_SIZE, scale)
    background = hex_to_rgb(design.colors.background)
    if photo is not None:
        strip = ImageOps.fit(photo.convert("RGB"), size, Image.Resampling.LANCZOS).convert("RGBA")
        strip.alpha_composite(_scrim(background, size))
        return strip
    strip = _gradient(background, size).convert("RGBA")
    if decorated:
        strip.alpha_composite(_circles(hex_to_rgb(design.colors.foreground), size))
    return strip


def _scrim(color: RGB, size: tuple[int, int]) -> Image.Image:
    """The background colour fading out from the left, under the primary field's text."""
    width = size[0]
    reach = max(1, round(width * _SCRIM_REACH))
    row = [round(_SCRIM_ALPHA * 255 * max(0.0, 1 - x / reach)) for x in range(width)]
    alpha = Image.new("L", (width, 1))
    alpha.putdata(row)
    layer = Image.new("RGBA", size, (*color, 0))
    layer.putalpha(alpha.resize(size, Image.Resampling.NEAREST))
    return layer


def _circles(color: RGB, size: tuple[int, int]) -> Image.Image:
    """A faint disc with rings around it, off the right edge: a strip that is not just
    empty, and quiet enough for the balance written over it."""
    width, height = size
    big = (width * _SUPERSAMPLE // 2, height * _SUPERSAMPLE // 2)
    layer = Image.new("RGBA", big, (*color, 0))
    draw = ImageDraw.Draw(layer)
    x, y = 0.93 * big[0], 0.5 * big[1]
    line = max(1, round(big[1] * 0.012))
    for share, fill in ((0.55, True), (0.85, False), (1.15, False)):
        r = share * big[1]
        if fill:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*color, _CIRCLE_ALPHA))
        else:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=(*color, _CIRCLE_ALPHA),
                         width=line)
    return layer.resize(size, Image.Resampling.LANCZOS)


def square_mark(text: str, background: str, foreground: str, logo: bytes | None,
                side: int = 660) -> bytes:
    """A square PNG of the program's mark for other wallets' artwork (Google Wallet's
    program logo, 660 pixels recommended): the uploaded logo centred on the background
    colour, or the monogram of ``text``. Colours are ``#RRGGBB``."""
    back, fore = hex_to_rgb(background), hex_to_rgb(foreground)
    canvas = Image.new("RGBA", (side, side), (*back, 255))
    if logo is not None:
        fitted = _fit(load_logo(logo), (round(side * _ICON_LOGO_SHARE),) * 2)
        canvas.alpha_composite(fitted, ((side - fitted.width) // 2,
                                        (side - fitted.height) // 2))
    else:
        glyph = _glyph(_initial(text), side * _SUPERSAMPLE, fore)
        canvas.alpha_composite(glyph.resize((side, side), Image.Resampling.LANCZOS))
    return _png(canvas)
