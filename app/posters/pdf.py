"""The poster as a one-page PDF, drawn with fpdf2 on A4 or A5.

The page is the program's background colour; from the top: the logo, the program's
name, the location, the offer on a band of the text colour, the QR code on a white
panel, the two steps, and the link in small type at the foot. Every measure is given for
A4 and scaled to the page's width, so A5 is the same poster, smaller. The QR code takes
what height the texts leave, up to ``QR_LARGEST``; what is left after that is shared
between the gaps, so a short poster does not bunch at the top.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fpdf import FPDF
from PIL import Image

from app.posters.content import Poster
from app.posters.layout import Fitted, fit
from passes.apple.images import load_logo

log = logging.getLogger("loyalpass.posters")

FONTS = Path(__file__).resolve().parent.parent / "static" / "fonts"
FAMILY = "DejaVu Sans"
PT = 25.4 / 72  # millimetres in a point
A4_WIDTH = 210.0
QR_QUIET_MODULES = 4  # the light margin readers need around the code
QR_LARGEST = 125.0  # mm on A4: scans from well over a metre
QR_SMALLEST = 70.0
LOGO_HEIGHT = 24.0
FEWER_LINES_SHARE = 0.8  # one line at 80 % of the size two lines allow reads better
LOGO_PIXELS = 1200  # a larger logo is scaled down: sharp in print, small in the file
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM, GAP = 16.0, 14.0, 9.0, 6.0


class Paper(enum.Enum):
    A4 = "A4"
    A5 = "A5"

    @property
    def millimetres(self) -> tuple[float, float]:
        return {"A4": (210.0, 297.0), "A5": (148.0, 210.0)}[self.value]


@dataclass(frozen=True)
class TextStyle:
    bold: bool
    largest: float  # points on A4
    smallest: float
    max_lines: int
    max_height: float  # mm on A4: the block's share of the page
    leading: float  # line height as a multiple of the size


TITLE = TextStyle(bold=True, largest=40, smallest=16, max_lines=3, max_height=36,
                  leading=1.15)
PLACE = TextStyle(bold=False, largest=18, smallest=11, max_lines=2, max_height=12,
                  leading=1.2)
OFFER = TextStyle(bold=True, largest=30, smallest=14, max_lines=2, max_height=24,
                  leading=1.2)
STEPS = TextStyle(bold=False, largest=19, smallest=11, max_lines=2, max_height=30,
                  leading=1.35)
FOOTER = TextStyle(bold=False, largest=9, smallest=6, max_lines=2, max_height=8,
                   leading=1.25)


@dataclass(frozen=True)
class Block:
    """Something stacked on the page: its height, and how to draw it from a top edge."""

    height: float
    draw: Callable[[float], None]


class _Page:
    """One poster's page: its measures (scaled from A4's) and the blocks drawn on it."""

    def __init__(self, pdf: FPDF, poster: Poster, paper: Paper) -> None:
        self.pdf, self.poster = pdf, poster
        self.width, self.height = paper.millimetres
        self.scale = self.width / A4_WIDTH
        self.inner = self.width - 2 * MARGIN_X * self.scale

    def fitted(self, texts: tuple[str, ...], style: TextStyle, width: float) -> Fitted:
        scale = self.scale

        def measure(text: str, size: float) -> float:
            self.pdf.set_font(FAMILY, "B" if style.bold else "", size)
            return float(self.pdf.get_string_width(text))

        # Each line count has its own largest size within the height budget.
        candidates: list[Fitted] = []
        for lines in range(1, style.max_lines + 1):
            largest = min(style.largest * scale, style.max_height * scale
                          / (len(texts) * lines * style.leading * PT))
            if largest < style.smallest * scale:
                break
            fitted = fit(texts, width=width, largest=largest, smallest=style.smallest * scale,
                         max_lines=lines, measure=measure)
            if not fitted.cut:
                candidates.append(fitted)
        # Fewer lines unless more lines make the text much larger.
        largest_size = max((fitted.size for fitted in candidates), default=0.0)
        best = next((fitted for fitted in candidates
                     if fitted.size >= FEWER_LINES_SHARE * largest_size), None)
        return best or fit(texts, width=width, largest=style.smallest * scale,
                           smallest=style.smallest * scale, max_lines=style.max_lines,
                           measure=measure)

    def text_block(self, texts: tuple[str, ...], style: TextStyle, color: str,
                   paragraph_gap: float = 0.0) -> Block:
        fitted = self.fitted(texts, style, self.inner)
        line = fitted.size * style.leading * PT
        gap = paragraph_gap * self.scale
        height = len(fitted.lines) * line + gap * (len(fitted.paragraphs) - 1)

        def draw(top: float) -> None:
            self.pdf.set_font(FAMILY, "B" if style.bold else "", fitted.size)
            self.pdf.set_text_color(color)
            y = top
            for paragraph in fitted.paragraphs:
                for text in paragraph:
                    self.pdf.set_xy(MARGIN_X * self.scale, y)
                    self.pdf.cell(self.inner, line, text, align="C")
                    y += line
                y += gap

        return Block(height, draw)

    def offer_block(self) -> Block:
        """The offer, in the page's colour on a rounded band of the text colour."""
        colors = self.poster.colors
        pad_x, pad_y = 7 * self.scale, 3.5 * self.scale
        fitted = self.fitted((self.poster.offer,), OFFER, self.inner - 2 * pad_x)
        line = fitted.size * OFFER.leading * PT
        self.pdf.set_font(FAMILY, "B", fitted.size)
        band_width = max(self.pdf.get_string_width(text) for text in fitted.lines) + 2 * pad_x
        height = len(fitted.lines) * line + 2 * pad_y

        def draw(top: float) -> None:
            left = (self.width - band_width) / 2
            self.pdf.set_fill_color(colors.foreground)
            self.pdf.rect(left, top, band_width, height, style="F", round_corners=True,
                          corner_radius=min(height / 2, 6 * self.scale))
            self.pdf.set_font(FAMILY, "B", fitted.size)
            self.pdf.set_text_color(colors.background)
            for index, text in enumerate(fitted.lines):
                self.pdf.set_xy(left, top + pad_y + index * line)
                self.pdf.cell(band_width, line, text, align="C")

        return Block(height, draw)

    def logo_block(self) -> Block | None:
        if self.poster.logo is None:
            return None
        try:
            logo = load_logo(self.poster.logo)
        except (ValueError, OSError) as error:
            # A logo stored before uploads were decoded in full: the poster goes without.
            log.warning("a program's logo cannot be drawn on its poster (%s)", error)
            return None
        logo.thumbnail((LOGO_PIXELS, LOGO_PIXELS), Image.Resampling.LANCZOS)
        height = LOGO_HEIGHT * self.scale
        width = height * logo.width / logo.height
        if width > self.inner * 0.7:
            width = self.inner * 0.7
            height = width * logo.height / logo.width

        def draw(top: float) -> None:
            self.pdf.image(logo, x=(self.width - width) / 2, y=top, w=width, h=height)

        return Block(height, draw)

    def qr_block(self, side: float) -> Block:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        code.add_data(self.poster.url)
        code.make(fit=True)
        matrix: list[list[bool]] = code.get_matrix()
        module = side / (len(matrix) + 2 * QR_QUIET_MODULES)

        def draw(top: float) -> None:
            left = (self.width - side) / 2
            self.pdf.set_fill_color("#FFFFFF")
            self.pdf.rect(left, top, side, side, style="F", round_corners=True,
                          corner_radius=2 * module)
            origin_x = left + QR_QUIET_MODULES * module
            origin_y = top + QR_QUIET_MODULES * module
            # One path for every dark run: filled at once, with no seams between modules.
            with self.pdf.new_path() as path:
                path.style.fill_color = "#000000"
                path.style.stroke_color = None
                for row, cells in enumerate(matrix):
                    column = 0
                    while column < len(cells):
                        if not cells[column]:
                            column += 1
                            continue
                        start = column
                        while column < len(cells) and cells[column]:
                            column += 1
                        path.rectangle(origin_x + start * module, origin_y + row * module,
                                       (column - start) * module, module)

        return Block(side, draw)


def _document(poster: Poster, paper: Paper) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format=paper.millimetres)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title(poster.title)
    pdf.set_lang(poster.language)
    pdf.set_creator("Loyalpass")
    pdf.add_page()
    return pdf


def render_poster(poster: Poster, paper: Paper) -> bytes:
    """The poster as the bytes of a one-page PDF of ``paper``'s size."""
    pdf = _document(poster, paper)
    page = _Page(pdf, poster, paper)
    colors, scale = poster.colors, page.scale
    pdf.set_fill_color(colors.background)
    pdf.rect(0, 0, page.width, page.height, style="F")
    head = [block for block in (
        page.logo_block(),
        page.text_block((poster.title,), TITLE, colors.foreground),
        page.text_block((poster.place,), PLACE, colors.label) if poster.place else None,
    ) if block is not None]
    offer = page.offer_block()
    steps = page.text_block(poster.steps, STEPS, colors.foreground, paragraph_gap=1.5)
    footer = page.text_block((poster.footer,), FOOTER, colors.label)
    # Head, offer, code, steps: a gap between each pair, twice as much around the offer.
    gaps = [GAP * scale] * (len(head) - 1) + [2 * GAP * scale] * 3
    top, bottom = MARGIN_TOP * scale, page.height - MARGIN_BOTTOM * scale - footer.height
    texts = sum(block.height for block in (*head, offer, steps))
    room = bottom - top - texts - sum(gaps) - GAP * scale
    side = max(QR_SMALLEST * scale, min(QR_LARGEST * scale, room))
    blocks = [*head, offer, page.qr_block(side), steps]
    spare = max(0.0, room - side) / (len(gaps) + 2)
    y = top + spare
    for block, gap in zip(blocks, [*gaps, 0.0], strict=True):
        block.draw(y)
        y += block.height + gap + spare
    footer.draw(bottom)
    return bytes(pdf.output())
