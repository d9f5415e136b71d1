"""A picture of a store card's front (and back) drawn from its pass.json and files.

Wallet draws a pass itself, on the phone; this is an approximation of its store-card
layout, good enough to see a pass without an iPhone: the background colour, the logo
and ``logoText`` with the header fields beside them, the strip with the primary field
written over it, the row of secondary and auxiliary fields, and the barcode with its
text. Labels and values are looked up in the chosen language's ``pass.strings``, as
Wallet does with the phone's language. Text that does not fit is cut with "…" the way
Wallet cuts it, and reported in :attr:`Front.texts`, so a test can hold a design to
"nothing on the front is cut short".

Values in, PNG bytes out: the pass.json object, the package's files by name, a
language. Geometry and fonts come from :mod:`passes.apple.layout`, the same numbers the
artwork is sized by. A QR code is drawn for real when the ``qrcode`` package is there;
other barcodes, and QR without it, as a labelled box.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from passes.apple.layout import (
    GAP,
    HEADER_HEIGHT,
    LABEL_SIZE,
    LOGO_TEXT_SIZE,
    MARGIN,
    PASS_WIDTH,
    PRIMARY_LABEL_SIZE,
    PRIMARY_VALUE_SIZE,
    STRIP_SIZE,
    VALUE_SIZE,
    font,
)
from passes.apple.strings import read_strings

BACKDROP = (232, 232, 237)  # Wallet's light grey around a pass
_OUTSIDE = 16  # backdrop around the pass, in points
_CORNER = 12
_ROW_GAP = 14  # between the strip and the row of fields
_BARCODE_SIDE = 132  # the QR code's side, in points
_BARCODE_PAD = 10
_ELLIPSIS = "…"
_RGB = re.compile(r"rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)")

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Drawn:
    """A piece of text drawn on the front: where it belongs (``logoText``,
    ``primary.balance``, ``row.reward``, ``header.tier``…), what was asked for, what
    was drawn, and whether it had to be cut."""

    role: str
    text: str
    shown: str
    truncated: bool


@dataclass(frozen=True)
class Front:
    """The picture of the front, and the texts on it."""

    png: bytes
    texts: tuple[Drawn, ...]

    def truncated(self) -> list[Drawn]:
        return [text for text in self.texts if text.truncated]

    def text(self, role: str) -> Drawn:
        return next(text for text in self.texts if text.role == role)


def render_front(document: Mapping[str, Any], files: Mapping[str, bytes], *, locale: str,
                 scale: int = 2) -> Front:
    """The front of a store card as Wallet would show it in ``locale``, ``scale`` pixels
    a point, on Wallet's grey backdrop."""
    canvas = _Canvas(document, files, locale, scale)
    canvas.header()
    canvas.strip()
    canvas.row()
    canvas.barcode()
    return Front(png=canvas.finish(), texts=tuple(canvas.drawn))


def render_back(document: Mapping[str, Any], files: Mapping[str, bytes], *, locale: str,
                scale: int = 2) -> bytes:
    """The back of the pass as a list of labelled texts (as Wallet lists them), a PNG."""
    strings = _strings(files, locale)
    fields = document.get("storeCard", {}).get("backFields", [])
    width = PASS_WIDTH - 2 * MARGIN
    blocks: list[tuple[str, list[str]]] = []
    for field in fields:
        label = _say(strings, str(field.get("label", ""))).upper()
        value = _value_text(field, strings, locale)
        lines: list[str] = []
        for paragraph in value.split("\n"):
            lines += _wrap(paragraph, _font(VALUE_SIZE - 2, scale), width * scale)
        blocks.append((label, lines))
    line_height = (VALUE_SIZE + 3)
    height = MARGIN + sum(LABEL_SIZE + 6 + len(lines) * line_height + 14
                          for _, lines in blocks) + MARGIN
    image = Image.new("RGB", ((PASS_WIDTH + 2 * _OUTSIDE) * scale,
                              (height + 2 * _OUTSIDE) * scale), BACKDROP)
    draw = ImageDraw.Draw(image)
    box = (_OUTSIDE * scale, _OUTSIDE * scale, (_OUTSIDE + PASS_WIDTH) * scale,
           (_OUTSIDE + height) * scale)
    draw.rounded_rectangle(box, radius=_CORNER * scale, fill=(255, 255, 255))
    y = _OUTSIDE + MARGIN
    for label, lines in blocks:
        draw.text(((_OUTSIDE + MARGIN) * scale, y * scale), label, fill=(110, 110, 115),
                  font=_font(LABEL_SIZE, scale))
        y += LABEL_SIZE + 6
        for line in lines:
            draw.text(((_OUTSIDE + MARGIN) * scale, y * scale), line, fill=(20, 20, 20),
                      font=_font(VALUE_SIZE - 2, scale))
            y += line_height
        y += 14
    return _png(image)


class _Canvas:
    """The front being drawn, top to bottom; ``y`` is where the next part starts."""

    def __init__(self, document: Mapping[str, Any], files: Mapping[str, bytes], locale: str,
                 scale: int) -> None:
        self.document, self.files, self.locale, self.scale = document, files, locale, scale
        self.strings = _strings(files, locale)
        self.fields: Mapping[str, Sequence[Mapping[str, Any]]] = document.get("storeCard", {})
        self.background = _color(document.get("backgroundColor"), (255, 255, 255))
        self.foreground = _color(document.get("foregroundColor"), (0, 0, 0))
        self.label = _color(document.get("labelColor"), self.foreground)
        self.height = HEADER_HEIGHT + STRIP_SIZE[1] + _ROW_GAP + 40 + 2 * _BARCODE_PAD + \
            _BARCODE_SIDE + 24 + MARGIN
        size = ((PASS_WIDTH + 2 * _OUTSIDE) * scale, (self.height + 2 * _OUTSIDE) * scale)
        self.image = Image.new("RGBA", size, (*BACKDROP, 255))
        self.pass_layer = Image.new("RGBA", (PASS_WIDTH * scale, self.height * scale),
                                    (*self.background, 255))
        self.draw = ImageDraw.Draw(self.pass_layer)
        self.drawn: list[Drawn] = []
        self.y = 0.0

    # The parts, top to bottom.

    def header(self) -> None:
        right = float(PASS_WIDTH - MARGIN)
        for field in reversed(list(self.fields.get("headerFields", []))):
            right = self._stacked(field, f"header.{field.get('key')}", right, 0,
                                  HEADER_HEIGHT, align_right=True) - GAP
        left = float(MARGIN)
        logo = self._image("logo")
        if logo is not None:
            width, height = logo.width / self.scale, logo.height / self.scale
            self.pass_layer.alpha_composite(logo, (round(left * self.scale),
                                                   round((HEADER_HEIGHT - height) / 2 *
                                                         self.scale)))
            left += width + GAP
        text = _say(self.strings, str(self.document.get("logoText", "")))  # localizable
        if text:
            fitted = self._fit("logoText", text, LOGO_TEXT_SIZE, right - left, bold=True)
            self._text((left, (HEADER_HEIGHT - LOGO_TEXT_SIZE * 1.2) / 2), fitted,
                       LOGO_TEXT_SIZE, self.foreground, bold=True)
        self.y = HEADER_HEIGHT

    def strip(self) -> None:
        top = self.y
        strip = self._image("strip")
        if strip is not None:
            size = (STRIP_SIZE[0] * self.scale, STRIP_SIZE[1] * self.scale)
            if strip.size != size:
                strip = strip.resize(size, Image.Resampling.LANCZOS)
            self.pass_layer.alpha_composite(strip, (0, round(top * self.scale)))
        for field in list(self.fields.get("primaryFields", []))[:1]:
            key = field.get("key")
            label_top = top + STRIP_SIZE[1] - MARGIN - PRIMARY_LABEL_SIZE * 1.25
            value_top = label_top - PRIMARY_VALUE_SIZE * 1.2
            width = PASS_WIDTH - 2 * MARGIN
            value = self._fit(f"primary.{key}", _value_text(field, self.strings, self.locale),
                              PRIMARY_VALUE_SIZE, width)
            self._text((MARGIN, value_top), value, PRIMARY_VALUE_SIZE, self.foreground)
            label = self._fit(f"primary.{key}.label", self._label(field), PRIMARY_LABEL_SIZE,
                              width)
            self._text((MARGIN, label_top), label, PRIMARY_LABEL_SIZE, self.label)
        self.y = top + STRIP_SIZE[1] + _ROW_GAP

    def row(self) -> None:
        fields = [*self.fields.get("secondaryFields", []), *self.fields.get("auxiliaryFields", [])]
        if not fields:
            self.y += 8
            return
        width = PASS_WIDTH - 2 * MARGIN - GAP * 2 * (len(fields) - 1)
        natural = [self._natural(field) for field in fields]
        shares = natural if sum(natural) <= width else _fair_shares(natural, width)
        spare = max(0.0, width - sum(shares))
        gaps = spare / (len(fields) - 1) if len(fields) > 1 else 0.0
        x = float(MARGIN)
        for index, (field, share) in enumerate(zip(fields, shares, strict=True)):
            last = index == len(fields) - 1 and index > 0
            anchor = PASS_WIDTH - MARGIN if last else x
            self._stacked(field, f"row.{field.get('key')}", anchor, self.y, 40,
                          align_right=last, width=share)
            x += share + GAP * 2 + gaps
        self.y += 40 + 10

    def barcode(self) -> None:
        barcodes = self.document.get("barcodes") or [self.document.get("barcode") or {}]
        barcode: Mapping[str, Any] = barcodes[0] if barcodes else {}
        width, height = _barcode_size(barcode)
        box_width = width + 2 * _BARCODE_PAD
        box_height = height + 2 * _BARCODE_PAD + 18
        left = (PASS_WIDTH - box_width) / 2
        top = self.height - MARGIN - box_height
        self.draw.rounded_rectangle(self._box(left, top, box_width, box_height),
                                    radius=6 * self.scale, fill=(255, 255, 255))
        code = _barcode_image(barcode, (width * self.scale, height * self.scale))
        self.pass_layer.alpha_composite(code, (round((left + _BARCODE_PAD) * self.scale),
                                               round((top + _BARCODE_PAD) * self.scale)))
        alt = str(barcode.get("altText", ""))
        if alt:
            fitted = self._fit("barcode.altText", alt, LABEL_SIZE, box_width - 8)
            text_width = self._width(fitted, LABEL_SIZE)
            self._text(((PASS_WIDTH - text_width) / 2, top + _BARCODE_PAD + height + 3),
                       fitted, LABEL_SIZE, (0, 0, 0))

    def finish(self) -> bytes:
        mask = Image.new("L", self.pass_layer.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, *(v - 1 for v in mask.size)),
                                               radius=_CORNER * self.scale, fill=255)
        self.image.paste(self.pass_layer, (_OUTSIDE * self.scale,) * 2, mask)
        return _png(self.image.convert("RGB"))

    # Helpers.

    def _stacked(self, field: Mapping[str, Any], role: str, anchor: float, top: float,
                 height: float, *, align_right: bool, width: float | None = None) -> float:
        """A label over a value; returns the left edge it took (for right-aligned ones)."""
        label, value = self._label(field), _value_text(field, self.strings, self.locale)
        room = width if width is not None else max(self._width(label, LABEL_SIZE),
                                                   self._width(value, VALUE_SIZE))
        label = self._fit(role + ".label", label, LABEL_SIZE, room)
        value = self._fit(role, value, VALUE_SIZE, room)
        used = max(self._width(label, LABEL_SIZE), self._width(value, VALUE_SIZE))
        left = anchor - used if align_right else anchor
        block = LABEL_SIZE * 1.3 + VALUE_SIZE * 1.2
        y = top + (height - block) / 2
        for text, size, color in ((label, LABEL_SIZE, self.label),
                                  (value, VALUE_SIZE, self.foreground)):
            x = anchor - self._width(text, size) if align_right else anchor
            self._text((x, y), text, size, color)
            y += size * 1.3
        return left

    def _natural(self, field: Mapping[str, Any]) -> float:
        return max(self._width(self._label(field), LABEL_SIZE),
                   self._width(_value_text(field, self.strings, self.locale), VALUE_SIZE))

    def _label(self, field: Mapping[str, Any]) -> str:
        return _say(self.strings, str(field.get("label", ""))).upper()

    def _fit(self, role: str, text: str, size: float, room: float, *,
             bold: bool = False) -> str:
        shown = text
        if self._width(text, size, bold=bold) > room:
            while shown and self._width(shown + _ELLIPSIS, size, bold=bold) > room:
                shown = shown[:-1]
            shown = shown.rstrip() + _ELLIPSIS
        self.drawn.append(Drawn(role=role, text=text, shown=shown, truncated=shown != text))
        return shown

    def _width(self, text: str, size: float, *, bold: bool = False) -> float:
        return float(_font(size, self.scale, bold=bold).getlength(text)) / self.scale

    def _text(self, at: tuple[float, float], text: str, size: float, color: RGB, *,
              bold: bool = False) -> None:
        self.draw.text((at[0] * self.scale, at[1] * self.scale), text, fill=(*color, 255),
                       font=_font(size, self.scale, bold=bold))

    def _image(self, name: str) -> Image.Image | None:
        for candidate in (f"{name}@{self.scale}x.png", f"{name}@3x.png", f"{name}@2x.png",
                          f"{name}.png"):
            data = self.files.get(candidate)
            if data is not None:
                image = Image.open(io.BytesIO(data)).convert("RGBA")
                factor = {"@2x": 2, "@3x": 3}.get(candidate[len(name):len(name) + 3], 1)
                if factor != self.scale:
                    size = (round(image.width * self.scale / factor),
                            round(image.height * self.scale / factor))
                    image = image.resize(size, Image.Resampling.LANCZOS)
                return image
        return None

    def _box(self, left: float, top: float, width: float, height: float
             ) -> tuple[float, float, float, float]:
        s = self.scale
        return left * s, top * s, (left + width) * s, (top + height) * s


def _fair_shares(natural: Sequence[float], width: float) -> list[float]:
    """Widths for fields that do not all fit: short ones keep theirs, the long ones share
    what is left equally (each is then cut to its share)."""
    shares = list(natural)
    open_ = list(range(len(natural)))
    while open_:
        even = (width - sum(shares[i] for i in range(len(shares)) if i not in open_)) / len(open_)
        small = [i for i in open_ if natural[i] <= even]
        if not small:
            for i in open_:
                shares[i] = even
            break
        open_ = [i for i in open_ if i not in small]
    return shares


def _strings(files: Mapping[str, bytes], locale: str) -> dict[str, str]:
    data = files.get(f"{locale}.lproj/pass.strings")
    return read_strings(data) if data is not None else {}


def _say(strings: Mapping[str, str], text: str) -> str:
    return strings.get(text, text)


def _value_text(field: Mapping[str, Any], strings: Mapping[str, str], locale: str) -> str:
    value = field.get("value", "")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        separator = "," if locale == "en" else "\u00a0"
        text = f"{value:,}".replace(",", separator)
        currency = field.get("currencyCode")
        return f"{text} {currency}" if currency else text
    return _say(strings, str(value))


def _color(value: object, default: RGB) -> RGB:
    match = _RGB.fullmatch(str(value or ""))
    if match is None:
        return default
    red, green, blue = (int(part) for part in match.groups())
    return red, green, blue


def _font(size: float, scale: int, *, bold: bool = False
          ) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    loaded = font(size * scale, bold=bold)
    if loaded is None:
        return ImageFont.load_default(size * scale)
    return loaded


def _wrap(text: str, face: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: float) -> list[str]:
    """Lines of ``text`` no wider than ``width``, broken between words, and inside a word
    (a link) only when it is wider than a line by itself."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}".strip()
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while face.getlength(current) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and face.getlength(current[:cut]) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


def _barcode_size(barcode: Mapping[str, Any]) -> tuple[int, int]:
    """The code's size in points: square codes square, linear and stacked ones wide."""
    kind = barcode.get("format")
    if kind == "PKBarcodeFormatCode128":
        return 250, 70
    if kind == "PKBarcodeFormatPDF417":
        return 250, 90
    return _BARCODE_SIDE, _BARCODE_SIDE


def _barcode_image(barcode: Mapping[str, Any], size: tuple[int, int]) -> Image.Image:
    """The barcode as Wallet would draw it: a real QR code when ``qrcode`` is installed,
    otherwise (and for the other formats) a box naming the format."""
    message = str(barcode.get("message", ""))
    if barcode.get("format") == "PKBarcodeFormatQR" and message:
        try:
            import qrcode  # optional: only the preview draws codes
        except ImportError:  # pragma: no cover - the service installs it
            pass
        else:
            code = qrcode.QRCode(border=0, box_size=8)
            code.add_data(message)
            picture: Image.Image = code.make_image().get_image().convert("RGBA")
            return picture.resize(size, Image.Resampling.NEAREST)
    image = Image.new("RGBA", size, (240, 240, 240, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(0, 0, 0, 255), width=2)
    name = str(barcode.get("format", "")).removeprefix("PKBarcodeFormat") or "barcode"
    draw.text((size[0] / 2, size[1] / 2), name, fill=(0, 0, 0, 255), anchor="mm",
              font=_font(12, max(1, size[1] // _BARCODE_SIDE)))
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
