"""Barcodes drawn as PNG for the customer's page: the card's own barcode, for a phone
without a wallet app to be scanned at the till, and a QR code of the page's link, for a
desktop browser to hand the page to a phone.

Invariant: the card's barcode is the pass's: the same symbology (the program's
``barcode_format``) and the same message (the number and its MAC), so the till reads a
screen like a pass. Drawn by libzint (``zint-bindings``), which covers every format a
pass may use; quiet zones included, as scanners need them.
"""

from __future__ import annotations

import zint

SYMBOLOGIES = {
    "qr": zint.Symbology.QRCODE,
    "pdf417": zint.Symbology.PDF417,
    "aztec": zint.Symbology.AZTEC,
    "code128": zint.Symbology.CODE128,
}
# libzint's scale: half the pixels per module (4: 8 pixels), sharp on a phone's screen
# when the page draws the image smaller.
SCALES = {"qr": 4.0, "pdf417": 2.0, "aztec": 4.0, "code128": 2.0}
LINK_QR_SCALE = 2.5  # 5 pixels per module: about 250 pixels for a card's link


def barcode_png(barcode_format: str, message: str, *, scale: float | None = None) -> bytes:
    """``message`` in ``barcode_format`` (one of ``SYMBOLOGIES``) as a PNG, black on
    white, without human-readable text (the page prints the number beside it)."""
    symbol = zint.Symbol()
    symbol.symbology = SYMBOLOGIES[barcode_format]
    symbol.output_options = (zint.OutputOptions.BARCODE_MEMORY_FILE
                             | zint.OutputOptions.BARCODE_QUIET_ZONES)
    symbol.show_text = False
    symbol.scale = scale or SCALES[barcode_format]
    if barcode_format == "code128":
        symbol.height = 50.0  # modules: tall enough to scan at an angle
    symbol.encode(message)
    symbol.outfile = "barcode.png"  # names the format; memory file, nothing written
    symbol.print()
    drawn = symbol.memfile
    assert drawn is not None  # BARCODE_MEMORY_FILE: print() fills it or raises
    return bytes(drawn)


def link_qr_png(url: str) -> bytes:
    """A QR code of ``url`` for a phone's camera to open."""
    return barcode_png("qr", url, scale=LINK_QR_SCALE)
