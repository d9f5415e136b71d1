"""Pass artwork: exact canvas sizes, fitted logos, defaults and refused uploads."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from passes.apple import PassDesign, validate_logo
from passes.apple import images as images_module
from passes.apple.images import render_images

MakeDesign = Callable[..., PassDesign]

EXPECTED_SIZES = {
    "icon.png": (29, 29),
    "icon@2x.png": (58, 58),
    "icon@3x.png": (87, 87),
    "logo.png": (160, 50),
    "logo@2x.png": (320, 100),
    "logo@3x.png": (480, 150),
    "strip.png": (375, 123),
    "strip@2x.png": (750, 246),
    "strip@3x.png": (1125, 369),
}


def picture(width: int, height: int, fmt: str = "PNG", color: str = "#D2691E") -> bytes:
    mode = "RGB" if fmt == "JPEG" else "RGBA"
    image = Image.new(mode, (width, height), "white" if mode == "RGB" else (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, width - 1, height - 1), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def pixel(image: Image.Image, position: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(position)
    assert isinstance(value, tuple)
    return value


def sizes_of(files: dict[str, bytes]) -> dict[str, tuple[int, int]]:
    return {name: opened(data).size for name, data in files.items()}


def test_default_artwork_has_apples_exact_sizes(design: PassDesign) -> None:
    assert sizes_of(render_images(design)) == EXPECTED_SIZES


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [(600, 100, "PNG"), (100, 600, "PNG"), (64, 64, "PNG"), (1200, 800, "JPEG")],
    ids=["wide", "tall", "small-square", "jpeg"],
)
def test_uploaded_logo_artwork_has_apples_exact_sizes(
    make_design: MakeDesign, width: int, height: int, fmt: str
) -> None:
    files = render_images(make_design(logo=picture(width, height, fmt)))
    assert sizes_of(files) == EXPECTED_SIZES


def test_wide_logo_fills_the_width_and_keeps_its_aspect(make_design: MakeDesign) -> None:
    logo = opened(render_images(make_design(logo=picture(600, 100)))["logo@2x.png"])
    left, top, right, bottom = logo.getchannel("A").getbbox() or (0, 0, 0, 0)
    assert (left, right) == (0, 320)
    assert abs((bottom - top) - 320 / 6) <= 1
    assert pixel(logo, (5, 0))[3] == 0  # transparent padding above


def test_tall_logo_fills_the_height_hugging_the_left_edge(make_design: MakeDesign) -> None:
    logo = opened(render_images(make_design(logo=picture(100, 600)))["logo.png"])
    left, top, right, bottom = logo.getchannel("A").getbbox() or (0, 0, 0, 0)
    assert (left, top, bottom) == (0, 0, 50)
    assert abs((right - left) - 50 / 6) <= 1
    assert pixel(logo, (159, 25))[3] == 0  # transparent padding to the right


def test_transparent_margins_of_an_upload_are_trimmed(make_design: MakeDesign) -> None:
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((100, 150, 299, 249), fill="#123456")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    logo = opened(render_images(make_design(logo=buffer.getvalue()))["logo.png"])
    assert logo.getchannel("A").getbbox() == (0, 0, 100, 50)


def test_icon_is_a_rounded_square_of_the_background_colour(make_design: MakeDesign) -> None:
    icon = opened(render_images(make_design(logo=picture(50, 50)))["icon@3x.png"]).convert("RGBA")
    assert pixel(icon, (0, 0))[3] == 0  # rounded corner
    assert pixel(icon, (44, 3)) == (0x1E, 0x3A, 0x5F, 255)  # background colour at the edge
    assert pixel(icon, (44, 44))[:3] == (0xD2, 0x69, 0x1E)  # the logo in the middle


def test_default_logo_is_a_monogram_disc_in_the_foreground_colour(design: PassDesign) -> None:
    logo = opened(render_images(design)["logo@3x.png"]).convert("RGBA")
    assert pixel(logo, (75, 12)) == (255, 255, 255, 255)  # the disc, near its top
    assert pixel(logo, (300, 75))[3] == 0  # nothing right of it
    centre_band = [pixel(logo, (x, 75))[:3] for x in range(40, 110)]
    assert (0x1E, 0x3A, 0x5F) in centre_band  # the initial, in the background colour


def test_strip_is_a_gentle_gradient_of_the_background(design: PassDesign) -> None:
    strip = opened(render_images(design)["strip.png"]).convert("RGB")
    top, bottom = pixel(strip, (10, 0)), pixel(strip, (10, 122))
    assert top != bottom
    assert all(abs(a - b) <= 40 for a, b in zip(top, bottom, strict=True))
    assert pixel(strip, (0, 60)) == pixel(strip, (374, 60))


def test_artwork_is_deterministic_and_small(make_design: MakeDesign) -> None:
    design = make_design(logo=picture(300, 120))
    first = render_images(design)
    assert first == render_images(design)
    assert sum(len(data) for data in first.values()) < 80_000


def test_artwork_without_the_font_falls_back_to_a_geometric_mark(
    design: PassDesign, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_font = render_images(design)
    monkeypatch.setattr(images_module, "FONT_PATH", tmp_path / "missing.ttf")
    without_font = render_images(design)
    assert sizes_of(without_font) == EXPECTED_SIZES
    assert without_font["logo.png"] != with_font["logo.png"]


def test_an_initial_the_font_cannot_draw_gets_the_geometric_mark(
    make_design: MakeDesign, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    design = make_design(logo_text="東京カフェ", organization_name="東京")
    undrawable = render_images(design)
    monkeypatch.setattr(images_module, "FONT_PATH", tmp_path / "missing.ttf")
    assert undrawable == render_images(design)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not an image",
        picture(40, 40)[:60],
        picture(40, 40, fmt="GIF"),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    ],
    ids=["empty", "text", "truncated-png", "gif", "png-signature-only"],
)
def test_unreadable_logos_are_refused_with_a_clear_message(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a readable PNG or JPEG"):
        validate_logo(data)


def test_fully_transparent_logo_is_refused(make_design: MakeDesign) -> None:
    empty = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(empty, format="PNG")
    with pytest.raises(ValueError, match="transparent"):
        render_images(make_design(logo=empty.getvalue()))


def test_enormous_logo_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images_module, "MAX_LOGO_PIXELS", 100)
    with pytest.raises(ValueError, match="too large"):
        validate_logo(picture(20, 20))


def test_good_logo_passes_validation() -> None:
    validate_logo(picture(20, 20))
    validate_logo(picture(20, 20, fmt="JPEG"))
