"""The stamps of a stamp card, drawn on its strip: filled ones and the empty ones to go.

A card of up to ``MAX_GRID`` stamps gets a grid of round stamps in the program's
colours, in the part of the strip the primary field ("3/8") leaves free
(:func:`passes.apple.layout.stamp_area`); a larger one gets a meter, since a hundred
stamps in a strip would each be a few pixels. A filled stamp is a disc of the
foreground colour with the icon in the background colour; an empty one is a ring with
a faint icon. The icon is the merchant's (a transparent PNG is used as a silhouette in
those colours; an opaque picture is shown as it is, in a circle) or a drawn cup.

Pure drawing on an image handed in; the same inputs draw the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from passes.apple.layout import stamp_area
from passes.apple.model import PassDesign, hex_to_rgb

MAX_GRID = 30  # more stamps than this are a meter, not a grid
MAX_ROWS = 4
_SUPERSAMPLE = 4
_FILL = 0.84  # a stamp's diameter as a share of its cell
_ICON_SHARE = 0.58  # the icon's box as a share of the stamp's diameter
_RING = 0.075  # an empty stamp's ring, as a share of its diameter
_EMPTY_RING_ALPHA = 150  # of 255
_EMPTY_ICON_ALPHA = 70
_PANEL_ALPHA = 150  # the shade behind stamps drawn over a photo
_METER_HEIGHT = 16  # points

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class StampMark:
    """What each stamp shows: the icon (RGBA) and whether it is a silhouette to tint."""

    icon: Image.Image
    silhouette: bool
    foreground: RGB
    background: RGB


def stamp_mark(design: PassDesign, icon: Image.Image | None) -> StampMark:
    """The design's stamp: the uploaded icon (RGBA, trimmed) or the drawn cup."""
    foreground = hex_to_rgb(design.colors.foreground)
    background = hex_to_rgb(design.colors.background)
    if icon is None:
        return StampMark(_cup(256), True, foreground, background)
    lowest, _ = icon.getchannel("A").getextrema()
    transparent = isinstance(lowest, int | float) and lowest < 255
    return StampMark(icon, transparent, foreground, background)


def grid_shape(count: int, width: float, height: float) -> tuple[int, int, float]:
    """Rows, columns and cell side (points) of the largest square cells that lay out
    ``count`` stamps in a ``width`` by ``height`` area; fewer rows on a tie."""
    best = (1, count, 0.0)
    for rows in range(1, min(MAX_ROWS, count) + 1):
        columns = math.ceil(count / rows)
        cell = min(width / columns, height / rows)
        if cell > best[2] + 1e-9:
            best = (rows, columns, cell)
    return best


def draw_stamps(strip: Image.Image, design: PassDesign, mark: StampMark, *, filled: int,
                scale: int, panel: bool) -> None:
    """Draw the card's ``filled`` stamps of ``design.stamps_required`` on ``strip`` (RGBA,
    ``scale`` pixels a point); ``panel`` shades the area first (over a photo)."""
    required = design.stamps_required or 1
    left, top, right, bottom = (value * scale for value in stamp_area(design))
    if panel:
        _panel(strip, (left, top, right, bottom), mark.background, scale)
    if required > MAX_GRID:
        _meter(strip, (left, top, right, bottom), mark, filled / required, scale)
        return
    rows, columns, cell = grid_shape(required, right - left, bottom - top)
    diameter = max(1, round(cell * _FILL))
    full, empty = _stamp(mark, diameter, filled=True), _stamp(mark, diameter, filled=False)
    origin_x = left + (right - left - columns * cell) / 2
    origin_y = top + (bottom - top - rows * cell) / 2
    for index in range(required):
        row, column = divmod(index, columns)
        # The last row is centred when it is not full.
        in_row = min(columns, required - row * columns)
        shift = (columns - in_row) * cell / 2
        x = origin_x + shift + column * cell + (cell - diameter) / 2
        y = origin_y + row * cell + (cell - diameter) / 2
        strip.alpha_composite(full if index < filled else empty, (round(x), round(y)))


def _stamp(mark: StampMark, diameter: int, *, filled: bool) -> Image.Image:
    big = diameter * _SUPERSAMPLE
    layer = Image.new("RGBA", (big, big), (*mark.foreground, 0))
    draw = ImageDraw.Draw(layer)
    ring = max(1, round(big * _RING))
    if filled and mark.silhouette:
        draw.ellipse((0, 0, big - 1, big - 1), fill=(*mark.foreground, 255))
    if mark.silhouette:
        color = mark.background if filled else mark.foreground
        alpha = 255 if filled else _EMPTY_ICON_ALPHA
        _paste_silhouette(layer, mark.icon, color, alpha)
    else:
        _paste_picture(layer, mark.icon, ring, faded=not filled)
    if not filled or not mark.silhouette:
        ring_alpha = 255 if filled else _EMPTY_RING_ALPHA
        draw.ellipse((0, 0, big - 1, big - 1), outline=(*mark.foreground, ring_alpha),
                     width=ring)
    return layer.resize((diameter, diameter), Image.Resampling.LANCZOS)


def _icon_box(side: int, icon: Image.Image, share: float) -> tuple[int, int, int, int]:
    room = side * share
    ratio = min(room / icon.width, room / icon.height)
    width, height = max(1, round(icon.width * ratio)), max(1, round(icon.height * ratio))
    return (side - width) // 2, (side - height) // 2, width, height


def _paste_silhouette(layer: Image.Image, icon: Image.Image, color: RGB, alpha: int) -> None:
    x, y, width, height = _icon_box(layer.width, icon, _ICON_SHARE)
    mask = icon.getchannel("A").resize((width, height), Image.Resampling.LANCZOS)
    if alpha < 255:
        mask = mask.point(lambda value: value * alpha // 255)
    tint = Image.new("RGBA", (width, height), (*color, 255))
    tint.putalpha(mask)
    layer.alpha_composite(tint, (x, y))


def _paste_picture(layer: Image.Image, icon: Image.Image, ring: int, *, faded: bool) -> None:
    """An opaque picture, cut to the circle inside the ring; grey and faint when empty."""
    side = layer.width - 2 * ring
    picture = ImageOps.fit(icon, (side, side), Image.Resampling.LANCZOS)
    if faded:
        picture = ImageOps.grayscale(picture.convert("RGB")).convert("RGBA")
    circle = Image.new("L", (side, side), 0)
    ImageDraw.Draw(circle).ellipse((0, 0, side - 1, side - 1),
                                   fill=_EMPTY_ICON_ALPHA if faded else 255)
    picture.putalpha(circle)
    layer.alpha_composite(picture, (ring, ring))


def _panel(strip: Image.Image, area: tuple[float, float, float, float], color: RGB,
           scale: int) -> None:
    left, top, right, bottom = area
    shade = Image.new("RGBA", strip.size, (*color, 0))
    pad = 4 * scale
    ImageDraw.Draw(shade).rounded_rectangle(
        (left - pad, top - pad, right + pad, bottom + pad), radius=12 * scale,
        fill=(*color, _PANEL_ALPHA))
    strip.alpha_composite(shade)


def _meter(strip: Image.Image, area: tuple[float, float, float, float], mark: StampMark,
           share: float, scale: int) -> None:
    left, top, right, bottom = area
    height = _METER_HEIGHT * scale
    middle = (top + bottom) / 2
    box = (left, middle - height / 2, right, middle + height / 2)
    big = Image.new("RGBA", (round((right - left) * _SUPERSAMPLE), height * _SUPERSAMPLE),
                    (*mark.foreground, 0))
    draw = ImageDraw.Draw(big)
    radius = big.height // 2
    draw.rounded_rectangle((0, 0, big.width - 1, big.height - 1), radius,
                           fill=(*mark.foreground, _EMPTY_ICON_ALPHA))
    done = round(big.width * max(0.0, min(1.0, share)))
    if done > 0:
        draw.rounded_rectangle((0, 0, max(done, big.height) - 1, big.height - 1), radius,
                               fill=(*mark.foreground, 255))
    meter = big.resize((round(right - left), height), Image.Resampling.LANCZOS)
    strip.alpha_composite(meter, (round(box[0]), round(box[1])))


def _cup(side: int) -> Image.Image:
    """A coffee cup on a saucer with a wisp of steam, as an RGBA silhouette."""
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = (0, 0, 0, 255)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return x0 * side, y0 * side, x1 * side, y1 * side

    stroke = round(side * 0.065)
    draw.rounded_rectangle(box(0.16, 0.40, 0.70, 0.80), radius=side * 0.13, fill=ink)
    draw.rectangle(box(0.16, 0.40, 0.70, 0.56), fill=ink)  # a straight rim
    draw.ellipse(box(0.58, 0.46, 0.88, 0.72), outline=ink, width=stroke)
    draw.rounded_rectangle(box(0.06, 0.84, 0.86, 0.92), radius=side * 0.04, fill=ink)
    for x in (0.31, 0.49):
        draw.arc(box(x - 0.07, 0.08, x + 0.07, 0.22), 90, 270, fill=ink, width=stroke)
        draw.arc(box(x - 0.07, 0.20, x + 0.07, 0.34), 270, 90, fill=ink, width=stroke)
    return layer
