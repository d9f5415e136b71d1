"""The counter QR code and the printable poster, read back as a customer's phone and a
printer would: the codes decoded by zxing-cpp (not the qrcode library that drew them), the
PDF rendered and its text read by PDFium. On SQLite only: nothing here is about the
database (tests/test_join_attribution.py runs the joins through these links on both).

Each poster is kept as a PNG under ``artifacts/posters/`` for a reviewer to look at.
"""

from __future__ import annotations

import ctypes
import io
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import zxingcpp
from PIL import Image, ImageDraw
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.i18n import using_locale
from app.merchants.models import Program
from app.posters import content
from app.posters.cache import PosterCache
from app.posters.layout import ELLIPSIS, fit, wrap
from app.posters.pdf import Paper
from app.web.posters import POSTERS_EXTENSION
from tests.conftest import BASE_URL, Api, new_merchant
from tests.hostile import assert_problem, snapshot

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "posters"
A4_POINTS = (595.28, 841.89)
A5_POINTS = (419.53, 595.28)
LONG_NAME = "Кавʼярня «Зерно на Подолі» — мережа кав'ярень"


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "posters.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Page:
    """What a reader gets from a one-page PDF."""

    size: tuple[float, float]  # points
    text: str
    char_boxes: list[tuple[float, float, float, float]]
    fonts: list[tuple[str, bool]]  # (base font name, embedded) of every text object
    image: Image.Image  # rendered at 150 dpi


@contextmanager
def _opened(data: bytes) -> Iterator[pdfium.PdfDocument]:
    document = pdfium.PdfDocument(data)
    try:
        yield document
    finally:
        document.close()


def _font(text_object: Any) -> tuple[str, bool]:
    font = pdfium_raw.FPDFTextObj_GetFont(text_object.raw)
    length = pdfium_raw.FPDFFont_GetBaseFontName(font, None, 0)
    name = ctypes.create_string_buffer(length)
    pdfium_raw.FPDFFont_GetBaseFontName(font, name, length)
    return name.value.decode(), bool(pdfium_raw.FPDFFont_GetIsEmbedded(font))


def read_pdf(data: bytes) -> Page:
    assert data.startswith(b"%PDF-")
    with _opened(data) as document:
        assert len(document) == 1
        page = document[0]
        textpage = page.get_textpage()
        page_text = textpage.get_text_range()
        boxes = [textpage.get_charbox(index) for index in range(textpage.count_chars())
                 if not textpage.get_text_range(index, 1).isspace()]
        fonts = [_font(item) for item in page.get_objects(
            filter=[pdfium_raw.FPDF_PAGEOBJ_TEXT])]
        image = page.render(scale=150 / 72).to_pil()
        result = Page(size=tuple(page.get_size()), text=page_text, char_boxes=boxes,
                      fonts=fonts, image=image)
        textpage.close()
        page.close()
    return result


def decoded(image: Image.Image) -> list[str]:
    """Every QR code zxing-cpp finds in the image."""
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)
            if barcode.format == zxingcpp.BarcodeFormat.QRCode]


def words(text: str) -> str:
    """Text with every run of white space (line breaks included) as one space."""
    return " ".join(text.split())


def keep(name: str, page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.image.save(ARTIFACTS / f"{name}.png")


def logo_png() -> bytes:
    """A two-part mark on transparency, as a café would upload."""
    image = Image.new("RGBA", (480, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 230, 230), fill=(246, 196, 96, 255))
    draw.ellipse((70, 70, 170, 170), fill=(91, 58, 41, 255))
    draw.rounded_rectangle((260, 80, 470, 160), radius=30, fill=(255, 255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_program(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {"name": "Kava Club", **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def add_location(api: Api, program: dict[str, Any], name: str = "Podil") -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/locations", {"name": name})
    assert response.status_code == 201
    body: dict[str, Any] = response.get_json()
    return body


def poster(api: Api, program: dict[str, Any], query: str = "") -> bytes:
    response = api.get(f"/api/v1/programs/{program['id']}/poster.pdf{query}")
    assert response.status_code == 200, response.get_data()[:300]
    assert response.mimetype == "application/pdf"
    data: bytes = response.data
    return data


def test_the_counter_qr_code_opens_the_join_page_with_the_location_and_campaign_tag(
    api: Api, program: dict[str, Any]
) -> None:
    location = add_location(api, program)
    response = api.get(f"/api/v1/programs/{program['id']}/qr.png"
                       f"?location={location['id']}&src=flyer-may")
    assert response.status_code == 200 and response.mimetype == "image/png"
    with Image.open(io.BytesIO(response.data)) as image:
        found = decoded(image.convert("RGB"))
    assert found == [f"{BASE_URL}/join/{program['slug']}?location={location['id']}"
                     "&src=flyer-may"]
    plain = api.get(f"/api/v1/programs/{program['id']}/qr.png")
    with Image.open(io.BytesIO(plain.data)) as image:
        assert decoded(image.convert("RGB")) == [f"{BASE_URL}/join/{program['slug']}"]


def test_an_a4_poster_carries_the_name_in_cyrillic_as_text_its_fonts_and_a_code_that_scans(
    api: Api
) -> None:
    program = make_program(api, name=LONG_NAME, kind="stamps", stamps_required=8,
                           reward_text="безкоштовна кава", locales=["uk", "en"],
                           colors={"background": "#1F2A44", "foreground": "#FFFFFF",
                                   "label": "#C9D3E6"})
    assert api.put(f"/api/v1/programs/{program['id']}/logo", logo_png(),
                   "image/png").status_code == 200
    location = add_location(api, program, "Поділ, вул. Сагайдачного, 25")
    page = read_pdf(poster(api, program, f"?location={location['id']}&src=counter-1"))
    keep("a4-uk-stamps", page)
    assert page.size == pytest.approx(A4_POINTS, abs=0.5)
    text = words(page.text)
    assert LONG_NAME in text  # as text, in Cyrillic, whichever line it broke at
    assert "Поділ, вул. Сагайдачного, 25" in text
    assert "Зберіть 8 штампів — безкоштовна кава у подарунок" in text
    assert "1. Відскануйте код камерою телефона." in text
    assert "2. Додайте картку в гаманець." in text
    assert page.fonts and all(embedded for _, embedded in page.fonts)
    assert {re.sub(r"^[A-Z]{6}\+", "", name) for name, _ in page.fonts} <= {
        "DejaVuSans", "DejaVuSansBook", "DejaVuSans-Bold", "DejaVuSansBold"}
    assert decoded(page.image) == [
        f"{BASE_URL}/join/{program['slug']}?location={location['id']}&src=counter-1"]


def test_an_a5_poster_is_a5_sized_speaks_russian_and_still_scans(
    api: Api, program: dict[str, Any]
) -> None:
    location = add_location(api, program)
    page = read_pdf(poster(api, program, f"?size=A5&lang=ru&location={location['id']}"))
    keep("a5-ru-earn", page)
    assert page.size == pytest.approx(A5_POINTS, abs=0.5)
    text = words(page.text)
    assert "Kava Club" in text and "Podil" in text
    assert "Возвращаем 2% баллами" in text  # the fixture's program earns 2 %
    assert "1. Отсканируйте код камерой телефона." in text
    assert decoded(page.image) == [
        f"{BASE_URL}/join/{program['slug']}?location={location['id']}"]


def test_the_poster_defaults_to_a4_in_the_programs_first_language_with_its_welcome_offer(
    api: Api
) -> None:
    program = make_program(api, welcome_points=100, earn_percent=2, locales=["en", "uk"],
                           colors={"background": "#5B3A29", "foreground": "#FFFFFF",
                                   "label": "#F3D9B1"})
    assert api.put(f"/api/v1/programs/{program['id']}/logo", logo_png(),
                   "image/png").status_code == 200
    page = read_pdf(poster(api, program))
    keep("a4-en-welcome", page)
    assert page.size == pytest.approx(A4_POINTS, abs=0.5)
    text = words(page.text)
    assert "Join and get 100 points" in text  # welcome points come before the earn rate
    assert "1. Scan the code with your phone's camera." in text
    assert "2. Add the card to your wallet." in text
    assert decoded(page.image) == [f"{BASE_URL}/join/{program['slug']}"]


@pytest.mark.parametrize(("fields", "lang", "offer"), [
    ({"welcome_points": 21}, "uk", "Приєднуйтеся та отримайте 21 бал"),
    ({"welcome_points": 22}, "ru", "Присоединяйтесь и получите 22 балла"),
    ({"welcome_points": 1}, "en", "Join and get 1 point"),
    ({"welcome_points": 1000}, "uk", "Приєднуйтеся та отримайте 1 000 балів"),
    ({"earn_percent": 2.5}, "uk", "Повертаємо 2,5% балами"),
    ({"earn_percent": 2, "tiers": [{"name": "Base", "min_spend": 0, "earn_percent": 3},
                                   {"name": "Gold", "min_spend": 100000, "earn_percent": 5}]},
     "en", "Get 3% back in points"),  # a new card's tier sets its rate
    ({"kind": "stamps", "stamps_required": 8, "reward_text": "a free coffee"}, "en",
     "Collect 8 stamps — get a free coffee"),
    ({"kind": "stamps", "stamps_required": 5}, "ru", "Соберите 5 штампов и получите подарок"),
    ({}, "en", "Get our loyalty card"),
])
def test_the_offer_line_comes_from_the_programs_rules(
    api: Api, fields: dict[str, Any], lang: str, offer: str
) -> None:
    program = make_program(api, **fields)
    text = words(read_pdf(poster(api, program, f"?lang={lang}")).text)
    assert offer.replace("\u00a0", " ") in text.replace("\u00a0", " ")


def test_a_name_as_long_as_a_program_may_have_fits_inside_an_a5_page(api: Api) -> None:
    name = ("Мережа кавʼярень і пекарень «Зерно на Подолі та Оболоні» — свіжа випічка, "
            "кава зі смаженням щоранку, Київ")[:120]
    program = make_program(api, name=name, locales=["uk"], welcome_points=50)
    location = add_location(api, program, "Оболонська набережна, 15, корпус 3, "
                                          "перший поверх, біля ескалатора")
    page = read_pdf(poster(api, program, f"?size=A5&location={location['id']}"))
    keep("a5-uk-longest-name", page)
    width, height = page.size
    margin = 10.0  # points: nothing touches the page's edge
    for left, bottom, right, top in page.char_boxes:
        assert margin <= left <= right <= width - margin
        assert margin <= bottom <= top <= height - margin
    assert name in words(page.text)  # whole: it shrank and wrapped, nothing was cut
    assert decoded(page.image) == [f"{BASE_URL}/join/{program['slug']}"
                                   f"?location={location['id']}"]


def test_names_with_characters_the_font_lacks_still_make_a_poster(api: Api) -> None:
    program = make_program(api, name="Кава ☕🍩 珈琲 Club", welcome_points=10)
    page = read_pdf(poster(api, program, "?size=A5"))
    assert "Кава" in page.text and "Club" in page.text
    assert decoded(page.image) == [f"{BASE_URL}/join/{program['slug']}"]


def test_a_stored_logo_that_cannot_be_drawn_leaves_the_poster_without_one(
    api: Api, program: dict[str, Any], session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """As an older version of the service may have stored it, before uploads were
    decoded in full: the poster is still served, and the failure is logged."""
    broken = logo_png()[:200]  # the header of a PNG, and then nothing
    session.execute(update(Program).where(Program.id == program["id"]).values(
        logo=broken, logo_content_type="image/png"))
    session.commit()
    with caplog.at_level(logging.WARNING, logger="loyalpass.posters"):
        page = read_pdf(poster(api, program))
    assert "cannot be drawn" in caplog.text
    assert decoded(page.image) == [f"{BASE_URL}/join/{program['slug']}"]


def test_the_poster_and_qr_code_answer_every_role_and_nobody_else(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    path = f"/api/v1/programs/{program['id']}/poster.pdf?size=A5"
    for role in ("manager", "cashier", "analyst"):
        issued = api.post("/api/v1/api-keys", {"role": role}).get_json()
        assert Api(api.client, issued["api_key"]).get(path).status_code == 200, role
    assert_problem(api.client.get(path), 401)
    stranger = new_merchant(api.client, session, "Other Bar")
    assert_problem(stranger.get(path), 404)
    assert_problem(stranger.get(f"/api/v1/programs/{program['id']}/qr.png"), 404)


BAD_QUERIES = [
    ("?size=A3", 422, "size"), ("?size=a4", 422, "size"), ("?size=", 422, "size"),
    ("?lang=de", 422, "lang"), ("?lang=", 422, "lang"), ("?lang=uk-UA", 422, "lang"),
    ("?src=Flyer", 422, "src"), ("?src=" + "x" * 33, 422, "src"), ("?src=", 422, "src"),
    ("?src=a%20b", 422, "src"), ("?src=%00", 422, "src"), ("?src=flyer%0A", 422, "src"),
    ("?src=%C3%A9t%C3%A9", 422, "src"),
    ("?location=abc", 404, None), ("?location=0", 404, None), ("?location=-1", 404, None),
    ("?location=99999999999999999999", 404, None), ("?location=", 404, None),
    ("?location=%00", 404, None),
]


@pytest.mark.parametrize(("query", "status", "field"), BAD_QUERIES)
def test_a_bad_query_is_a_problem_naming_it_and_changes_nothing(
    api: Api, program: dict[str, Any], session: Session, query: str, status: int,
    field: str | None
) -> None:
    before = snapshot(session)
    for endpoint in ("poster.pdf", "qr.png"):
        if endpoint == "qr.png" and field in ("size", "lang"):
            continue  # the QR code has neither
        response = api.get(f"/api/v1/programs/{program['id']}/{endpoint}{query}")
        problem = assert_problem(response, status)
        if field is not None:
            assert [error["field"] for error in problem["errors"]] == [field]
    assert snapshot(session) == before


def test_a_location_of_another_program_or_merchant_is_not_found(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    other_program = make_program(api, name="Bakery")
    theirs = add_location(api, other_program, "Bakery counter")
    stranger = new_merchant(api.client, session, "Other Bar")
    their_program = make_program(stranger, name="Other")
    strangers = add_location(stranger, their_program, "Elsewhere")
    before = snapshot(session)
    for location in (theirs, strangers):
        for endpoint in ("poster.pdf", "qr.png"):
            response = api.get(f"/api/v1/programs/{program['id']}/{endpoint}"
                               f"?location={location['id']}")
            assert_problem(response, 404)
    assert snapshot(session) == before


def test_the_openapi_description_documents_the_poster_and_its_parameters(api: Api) -> None:
    document = api.client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/v1/programs/{id}/poster.pdf"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["size"]["schema"]["enum"] == ["A4", "A5"]
    assert parameters["lang"]["schema"]["enum"] == ["en", "ru", "uk"]
    assert re.fullmatch(parameters["src"]["schema"]["pattern"], "flyer-may")
    assert not re.fullmatch(parameters["src"]["schema"]["pattern"], "Flyer")
    assert {"200", "401", "404", "422"} <= set(operation["responses"])
    assert "application/pdf" in operation["responses"]["200"]["content"]
    qr = document["paths"]["/api/v1/programs/{id}/qr.png"]["get"]
    assert {parameter["name"] for parameter in qr["parameters"]} == {"location", "src"}
    card = document["components"]["schemas"]["Card"]["properties"]
    assert {"location_id", "source"} <= set(card)


def _width(text: str, size: float) -> float:
    return len(text) * size  # every character one size wide: easy to reason about


def test_wrapping_breaks_at_spaces_keeps_a_dash_on_its_word_and_splits_only_overlong_words(
) -> None:
    lines = wrap("Зерно на Подолі — мережа кав'ярень", 17, 1, _width)
    assert lines == ["Зерно на Подолі —", "мережа кав'ярень"]
    assert all(_width(line, 1) <= 17 for line in lines)
    assert wrap("abcdefghij klm", 4, 1, _width) == ["abcd", "efgh", "ij", "klm"]
    assert wrap("a\u00a0b c", 3, 1, _width) == ["a\u00a0b", "c"]  # no break at no-break


def test_fitting_shrinks_before_it_wraps_and_ends_in_an_ellipsis_only_past_the_floor(
) -> None:
    one_line = fit(("Kava Club",), width=45, largest=10, smallest=2, max_lines=1,
                   measure=_width)
    assert one_line.size == 5 and one_line.lines == ("Kava Club",) and not one_line.cut
    filled = fit(("one two three four five",), width=60, largest=4, smallest=4,
                 max_lines=2, measure=_width)
    assert filled.lines == ("one two three", "four five")
    balanced = fit(("one two three four",), width=60, largest=4, smallest=4, max_lines=2,
                   measure=_width)
    assert balanced.lines == ("one two", "three four")  # rather than "four" alone below
    cut = fit(("one two three four five six",), width=10, largest=2, smallest=1,
              max_lines=2, measure=_width)
    assert cut.cut and len(cut.lines) == 2 and cut.lines[-1].endswith(ELLIPSIS)
    assert all(_width(line, 1) <= 10 for line in cut.lines)


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", ["1 point", "2 points", "5 points", "11 points", "21 points", "22 points"]),
    ("ru", ["1 балл", "2 балла", "5 баллов", "11 баллов", "21 балл", "22 балла"]),
    ("uk", ["1 бал", "2 бали", "5 балів", "11 балів", "21 бал", "22 бали"]),
])
def test_the_welcome_offer_counts_points_in_each_languages_plural_forms(
    locale: str, expected: list[str]
) -> None:
    with using_locale(locale):
        for count, ending in zip((1, 2, 5, 11, 21, 22), expected, strict=True):
            assert content.welcome_offer(count).endswith(f" {ending}")


def test_a_second_request_is_served_from_the_cache_and_a_matching_etag_gets_304(
    api: Api, program: dict[str, Any]
) -> None:
    cache = api.client.application.extensions[POSTERS_EXTENSION]
    path = f"/api/v1/programs/{program['id']}/poster.pdf?size=A5&lang=uk"
    first = api.get(path)
    assert first.status_code == 200 and (cache.misses, cache.hits) == (1, 0)
    etag = first.headers["ETag"]
    again = api.get(path)
    assert again.status_code == 200 and (cache.misses, cache.hits) == (1, 1)
    assert again.data == first.data and again.headers["ETag"] == etag
    unchanged = api.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    assert (cache.misses, cache.hits) == (1, 1)  # nothing drawn, nothing read
    assert api.get(path, headers={"If-None-Match": '"another"'}).status_code == 200


def test_a_design_change_or_another_query_gives_a_new_poster(
    api: Api, program: dict[str, Any]
) -> None:
    location = add_location(api, program)
    base = f"/api/v1/programs/{program['id']}/poster.pdf"
    queries = ["", "?size=A5", "?lang=ru", f"?location={location['id']}", "?src=flyer-may"]
    etags = [api.get(base + query).headers["ETag"] for query in queries]
    assert len(set(etags)) == len(queries)
    before = api.get(base)
    assert api.patch(f"/api/v1/programs/{program['id']}", {
        "colors": {"background": "#6B3E26", "foreground": "#FFF7EE",
                   "label": "#F1D9C4"}}).status_code == 200
    recoloured = api.get(base, headers={"If-None-Match": before.headers["ETag"]})
    assert recoloured.status_code == 200 and recoloured.headers["ETag"] not in etags
    assert read_pdf(recoloured.data).image.getpixel((5, 5)) == (0x6B, 0x3E, 0x26)
    assert api.patch(f"/api/v1/programs/{program['id']}",
                     {"welcome_points": 75}).status_code == 200
    offered = api.get(base)
    assert "75" in read_pdf(offered.data).text
    assert offered.headers["ETag"] != recoloured.headers["ETag"]
    uploaded = api.put(f"/api/v1/programs/{program['id']}/logo", logo_png(), "image/png")
    assert uploaded.status_code == 200, uploaded.get_json()
    assert api.get(base).headers["ETag"] not in {offered.headers["ETag"], *etags}


def test_the_cache_keeps_the_most_recently_used_posters_within_its_bounds(
    api: Api, program: dict[str, Any], session: Session
) -> None:
    kava = session.get(Program, program["id"])
    assert kava is not None
    drawn = [content.poster_content(kava, location=None, locale=language, url=BASE_URL)
             for language in ("en", "ru", "uk")]
    cache = PosterCache(max_entries=2)
    for each in drawn:
        cache.poster(each, Paper.A5)
    assert len(cache) == 2 and cache.misses == 3
    cache.poster(drawn[2], Paper.A5)
    assert cache.hits == 1
    cache.poster(drawn[0], Paper.A5)  # dropped as the oldest: drawn again
    assert cache.misses == 4
    small = PosterCache(max_bytes=len(cache.poster(drawn[1], Paper.A5).pdf) - 1)
    small.poster(drawn[1], Paper.A5)
    assert len(small) == 0  # larger than the whole cache: served, not kept


def test_a_poster_shows_the_programs_name_and_reward_in_its_own_language(api: Api) -> None:
    program = make_program(api, kind="stamps", stamps_required=6, locales=["uk", "en"],
                           name={"uk": "Кавʼярня «Зерно»", "en": "Zerno Coffee"},
                           reward_text={"uk": "безкоштовну каву", "en": "a free coffee"})
    english = words(read_pdf(poster(api, program, "?lang=en&size=A5")).text)
    ukrainian = words(read_pdf(poster(api, program, "?lang=uk&size=A5")).text)
    assert "Zerno Coffee" in english and "Collect 6 stamps — get a free coffee" in english
    assert "Зерно" not in english
    assert "Кавʼярня «Зерно»" in ukrainian and "безкоштовну каву" in ukrainian
