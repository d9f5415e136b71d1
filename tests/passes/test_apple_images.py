"""Pass artwork: Apple's sizes, logos trimmed to their content beside the name, strips
(a photo, a drawn background, a stamp card's stamps), defaults and refused uploads."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from passes.apple import PassDesign, validate_logo, validate_stamp_icon, validate_strip
from passes.apple import images as images_module
from passes.apple.images import render_images
from passes.apple.layout import stamp_area
from passes.apple.stamps import grid_shape

MakeDesign = Callable[..., PassDesign]

EXPECTED_SIZES = {
    "icon.png": (29, 29),
    "icon@2x.png": (58, 58),
    "icon@3x.png": (87, 87),
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


def assert_apples_sizes(files: dict[str, bytes]) -> tuple[int, int]:
    """Icon and strip at Apple's exact sizes; the logo within 160×50 points, its 2x and
    3x exactly twice and three times its 1x. Returns the logo's size in points."""
    sizes = sizes_of(files)
    assert {name: sizes[name] for name in EXPECTED_SIZES} == EXPECTED_SIZES
    assert set(sizes) == {*EXPECTED_SIZES, "logo.png", "logo@2x.png", "logo@3x.png"}
    width, height = sizes["logo.png"]
    assert 1 <= width <= 160 and 1 <= height <= 50
    assert sizes["logo@2x.png"] == (2 * width, 2 * height)
    assert sizes["logo@3x.png"] == (3 * width, 3 * height)
    return width, height


def test_default_artwork_has_apples_sizes(design: PassDesign) -> None:
    assert assert_apples_sizes(render_images(design)) == (40, 40)


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [(600, 100, "PNG"), (100, 600, "PNG"), (64, 64, "PNG"), (1200, 800, "JPEG")],
    ids=["wide", "tall", "small-square", "jpeg"],
)
def test_uploaded_logo_artwork_has_apples_sizes(
    make_design: MakeDesign, width: int, height: int, fmt: str
) -> None:
    assert_apples_sizes(render_images(make_design(logo=picture(width, height, fmt))))


def test_a_wide_logo_is_trimmed_to_its_content_at_apples_largest_width(
    make_design: MakeDesign,
) -> None:
    logo = opened(render_images(make_design(logo=picture(600, 100)))["logo@2x.png"])
    assert logo.size == (320, 54)  # 160×27 points: the aspect kept, nothing transparent
    assert logo.getchannel("A").getbbox() == (0, 0, 320, 54)


def test_a_tall_logo_is_as_high_as_apple_allows_and_no_wider_than_itself(
    make_design: MakeDesign,
) -> None:
    logo = opened(render_images(make_design(logo=picture(100, 600)))["logo.png"])
    assert logo.size == (8, 50)


def test_a_long_name_narrows_the_logo_so_that_the_name_keeps_its_width(
    make_design: MakeDesign,
) -> None:
    short = opened(render_images(make_design(logo=picture(600, 100)))["logo.png"])
    long_name = make_design(logo=picture(600, 100), logo_text="Кавʼярня «Зерно на Подолі»")
    narrow = opened(render_images(long_name)["logo.png"])
    assert narrow.width < short.width == 160
    assert narrow.width >= 36
    without_name = opened(render_images(make_design(logo=picture(600, 100), logo_text=""))
                          ["logo.png"])
    assert without_name.width == 160


def test_transparent_margins_of_an_upload_are_trimmed(make_design: MakeDesign) -> None:
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((100, 150, 299, 249), fill="#123456")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    logo = opened(render_images(make_design(logo=buffer.getvalue()))["logo.png"])
    assert logo.size == (100, 50)
    assert logo.getchannel("A").getbbox() == (0, 0, 100, 50)


def test_icon_is_a_rounded_square_of_the_background_colour(make_design: MakeDesign) -> None:
    icon = opened(render_images(make_design(logo=picture(50, 50)))["icon@3x.png"]).convert("RGBA")
    assert pixel(icon, (0, 0))[3] == 0  # rounded corner
    assert pixel(icon, (44, 3)) == (0x1E, 0x3A, 0x5F, 255)  # background colour at the edge
    assert pixel(icon, (44, 44))[:3] == (0xD2, 0x69, 0x1E)  # the logo in the middle


def test_default_logo_is_a_monogram_disc_in_the_foreground_colour(design: PassDesign) -> None:
    logo = opened(render_images(design)["logo@3x.png"]).convert("RGBA")
    assert logo.size == (120, 120)  # 40 points, no transparent canvas beside it
    assert pixel(logo, (60, 10)) == (255, 255, 255, 255)  # the disc, near its top
    assert pixel(logo, (1, 1))[3] == 0  # round: the corners are transparent
    centre_band = [pixel(logo, (x, 60))[:3] for x in range(30, 90)]
    assert (0x1E, 0x3A, 0x5F) in centre_band  # the initial, in the background colour


def test_the_points_strip_is_a_quiet_gradient_of_the_background(design: PassDesign) -> None:
    strip = opened(render_images(design)["strip.png"]).convert("RGB")
    top, bottom = pixel(strip, (10, 0)), pixel(strip, (10, 122))
    assert top != bottom
    assert all(abs(a - b) <= 40 for a, b in zip(top, bottom, strict=True))
    # The left, where Wallet writes the balance, is plain; the right has faint rings.
    assert pixel(strip, (0, 60)) == pixel(strip, (150, 60))
    background = (0x1E, 0x3A, 0x5F)
    assert all(abs(a - b) <= 40 for a, b in zip(pixel(strip, (370, 60)), background,
                                                 strict=True))


def stamp_points(design: PassDesign, scale: int) -> list[tuple[int, int]]:
    """For each stamp of the design's grid, a point inside its disc, off its icon."""
    left, top, right, bottom = stamp_area(design)
    required = design.stamps_required or 1
    rows, columns, cell = grid_shape(required, right - left, bottom - top)
    origin_x = left + (right - left - columns * cell) / 2
    origin_y = top + (bottom - top - rows * cell) / 2
    points = []
    for index in range(required):
        row, column = divmod(index, columns)
        in_row = min(columns, required - row * columns)
        x = origin_x + (columns - in_row) * cell / 2 + column * cell + cell / 2
        y = origin_y + row * cell + cell / 2 + 0.36 * cell * 0.84
        points.append((round(x * scale), round(y * scale)))
    return points


def first_stamp_centre(design: PassDesign, scale: int) -> tuple[int, int]:
    """The centre of the first stamp of a one-row grid."""
    left, top, right, bottom = stamp_area(design)
    _, columns, cell = grid_shape(design.stamps_required or 1, right - left, bottom - top)
    x = left + (right - left - columns * cell) / 2 + cell / 2
    return round(x * scale), round((top + bottom) / 2 * scale)


def is_near(color: tuple[int, ...], target: tuple[int, int, int], slack: int = 30) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(color[:3], target, strict=True))


@pytest.mark.parametrize("filled", [0, 3, 8])
def test_a_stamp_card_strip_shows_its_stamps_filled_and_empty(
    make_design: MakeDesign, filled: int
) -> None:
    design = make_design(kind="stamps", stamps_required=8)
    strip = opened(render_images(design, stamps=filled)["strip@2x.png"]).convert("RGB")
    colors = [pixel(strip, point) for point in stamp_points(design, 2)]
    white = (255, 255, 255)
    assert [is_near(color, white) for color in colors] == [i < filled for i in range(8)]


def test_a_grid_of_many_stamps_uses_more_rows_and_a_huge_card_a_meter(
    make_design: MakeDesign,
) -> None:
    assert grid_shape(8, 250, 103)[:2] == (2, 4)
    assert grid_shape(20, 250, 103)[:2] == (3, 7)
    assert grid_shape(1, 250, 103)[:2] == (1, 1)
    design = make_design(kind="stamps", stamps_required=100)
    half = opened(render_images(design, stamps=50)["strip.png"]).convert("RGB")
    left, top, right, bottom = stamp_area(design)
    middle = round((top + bottom) / 2)
    assert is_near(pixel(half, (round(left + (right - left) * 0.25), middle)), (255,) * 3)
    assert not is_near(pixel(half, (round(left + (right - left) * 0.75), middle)), (255,) * 3)


def test_an_uploaded_transparent_stamp_icon_is_drawn_in_the_programs_colours(
    make_design: MakeDesign,
) -> None:
    icon = Image.new("RGBA", (90, 90), (0, 0, 0, 0))
    ImageDraw.Draw(icon).ellipse((10, 10, 79, 79), fill=(200, 0, 0, 255))  # a red disc
    buffer = io.BytesIO()
    icon.save(buffer, format="PNG")
    design = make_design(kind="stamps", stamps_required=4, stamp_icon=buffer.getvalue())
    strip = opened(render_images(design, stamps=1)["strip@2x.png"]).convert("RGB")
    centre = first_stamp_centre(design, 2)
    assert is_near(pixel(strip, centre), (0x1E, 0x3A, 0x5F))  # the silhouette, tinted


def test_an_opaque_stamp_icon_keeps_its_colours_inside_the_stamp(
    make_design: MakeDesign,
) -> None:
    design = make_design(kind="stamps", stamps_required=4,
                         stamp_icon=picture(80, 80, "JPEG", color="#00C000"))
    strip = opened(render_images(design, stamps=1)["strip@2x.png"]).convert("RGB")
    assert is_near(pixel(strip, first_stamp_centre(design, 2)), (0, 192, 0))


def test_a_strip_photo_covers_the_strip_shaded_where_the_balance_is_written(
    make_design: MakeDesign,
) -> None:
    design = make_design(strip=picture(1200, 400, "JPEG", color="#E02020"))
    strip = opened(render_images(design)["strip@3x.png"]).convert("RGB")
    assert strip.size == (1125, 369)
    assert is_near(pixel(strip, (1100, 180)), (0xE0, 0x20, 0x20))  # the photo itself
    left = pixel(strip, (5, 180))
    assert left[0] < 0xE0 - 60 and left[2] > 0x20  # towards the background colour


def test_a_stamp_card_over_a_photo_gets_a_shade_behind_its_stamps(
    make_design: MakeDesign,
) -> None:
    design = make_design(kind="stamps", stamps_required=8,
                         strip=picture(1200, 400, "JPEG", color="#E02020"))
    strip = opened(render_images(design, stamps=3)["strip.png"]).convert("RGB")
    _, top, right, _ = stamp_area(design)
    assert not is_near(pixel(strip, (round(right) - 1, round(top) + 1)), (0xE0, 0x20, 0x20))


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
    assert_apples_sizes(without_font)
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


def test_strip_photos_and_stamp_icons_are_refused_by_name(
    make_design: MakeDesign,
) -> None:
    with pytest.raises(ValueError, match="The strip photo is not a readable PNG or JPEG"):
        validate_strip(b"GIF89a")
    with pytest.raises(ValueError, match="The stamp icon is not a readable PNG or JPEG"):
        validate_stamp_icon(b"")
    validate_strip(picture(400, 130, "JPEG"))
    validate_stamp_icon(picture(20, 20))


def test_good_logo_passes_validation() -> None:
    validate_logo(picture(20, 20))
    validate_logo(picture(20, 20, fmt="JPEG"))
