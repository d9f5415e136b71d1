"""The counter QR code and the printable poster of a program, under ``/api/v1``.

Both encode the program's join link, naming the location (``?location=ID``, one of the
program's) and the campaign tag (``?src=``, ``app.cards.attribution``) when asked, so
that every card joined through them records where it came from. Their query is checked
before anything is drawn: a location that is not the program's is 404 (as the program
itself would be), any other value out of its rules is 422 naming the parameter.

Posters are drawn once per design and kept in the app's ``PosterCache``
(``app.posters.cache``); each carries its key as a strong ETag, and a request naming it
in ``If-None-Match`` is answered 304 without drawing or sending anything.
"""

from __future__ import annotations

import io

import qrcode
from flask import Blueprint, Flask, Response, current_app, request

from app.cards.attribution import SOURCE_PATTERN, SOURCE_RULE, campaign_source
from app.errors import Invalid, NotFound
from app.i18n import LOCALES
from app.merchants import service as merchants
from app.merchants.models import Location, Program
from app.posters.cache import PosterCache, poster_key
from app.posters.content import poster_content
from app.posters.pdf import Paper
from app.problem_codes import ProblemCode
from app.validation import parse_id
from app.web.auth import READERS, merchant_id, requires
from app.web.context import db, runtime
from app.web.json_shapes import join_url
from app.web.openapi import documented, query_parameter

blueprint = Blueprint("posters", __name__)
POSTERS_EXTENSION = "loyalpass_posters"  # the app's PosterCache, in app.extensions

PAPERS = {paper.value: paper for paper in Paper}

# The join link's attribution, as both answers take it, in the API description.
JOIN_LINK_QUERY = (
    query_parameter("location", "one of the program's locations"),
    {"name": "src", "in": "query", "description": f"campaign tag: {SOURCE_RULE}",
     "schema": {"type": "string", "pattern": f"^{SOURCE_PATTERN.pattern}$"}},
)
POSTER_QUERY = (
    *JOIN_LINK_QUERY,
    {"name": "size", "in": "query", "description": "paper (default A4)",
     "schema": {"enum": list(PAPERS)}},
    {"name": "lang", "in": "query", "description": "the poster's language (default the "
     "program's first)", "schema": {"enum": list(LOCALES)}},
)
NO_SUCH_LOCATION = ((ProblemCode.NOT_FOUND,
                     "no such location in the program (any other value of location)"),)


def init_app(app: Flask) -> None:
    app.extensions[POSTERS_EXTENSION] = PosterCache()


def poster_cache() -> PosterCache:
    cache: PosterCache = current_app.extensions[POSTERS_EXTENSION]
    return cache


def _refuse(name: str, rule: str) -> Invalid:
    return Invalid(f"{name}: {rule}.", errors=[{"field": name, "message": rule}])


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise _refuse(name, f"one of {', '.join(allowed)}")
    return value


def _join_link(program: Program) -> tuple[Location | None, str]:
    """The location asked for (or none) and the join link naming it and the tag."""
    asked = request.args.get("location")
    location = None
    if asked is not None:
        # Anything but an id of one of the program's locations: there is no such location.
        location = merchants.program_location(db(), program=program,
                                              location_id=parse_id(asked))
        if location is None:
            raise NotFound("No such location in this program.")
    tag = request.args.get("src")
    source = campaign_source(tag)
    if tag is not None and source is None:
        raise _refuse("src", SOURCE_RULE)
    url = join_url(runtime().config.base_url, program,
                   location.id if location is not None else None, source)
    return location, url


@blueprint.get("/v1/programs/<int:program_id>/qr.png")
@documented("The counter QR code: the join URL, naming the location and the campaign tag "
            "when given (cards joined through it record them)",
            {"200": {"description": "PNG", "content": {"image/png": {}}}},
            query=JOIN_LINK_QUERY, refusals=NO_SUCH_LOCATION)
@requires(*READERS, "cashier")
def program_qr(program_id: int) -> Response:
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    _, url = _join_link(program)
    return qr_response(url)


def qr_response(url: str) -> Response:
    """The counter QR code of a join link (the API's and the dashboard's)."""
    image = qrcode.make(url, box_size=12, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), mimetype="image/png")


@blueprint.get("/v1/programs/<int:program_id>/poster.pdf")
@documented("The printable counter poster (one PDF page): the program's colours, logo and "
            "name, the location, the offer in one line from the program's rules, the QR code "
            "of the join URL (as qr.png), two steps and the link, in one language",
            {"200": {"description": "PDF, with its ETag", "content": {"application/pdf": {}}},
             "304": {"description": "If-None-Match named this poster's ETag: unchanged"}},
            query=POSTER_QUERY, refusals=NO_SUCH_LOCATION)
@requires(*READERS, "cashier")
def program_poster(program_id: int) -> Response:
    """The printable poster: ``size`` A4 (default) or A5, ``lang`` one of ours (default the
    program's first language), ``location`` and ``src`` as for the QR code."""
    program = merchants.get_program(db(), merchant_id=merchant_id(), program_id=program_id)
    paper = PAPERS[_choice("size", tuple(PAPERS), Paper.A4.value)]
    first = next((locale for locale in program.locales if locale in LOCALES), LOCALES[0])
    language = _choice("lang", LOCALES, first)
    location, url = _join_link(program)
    return poster_response(program, location, paper=paper, language=language, url=url)


def poster_response(program: Program, location: Location | None, *, paper: Paper,
                    language: str, url: str) -> Response:
    """The printable poster of a join link, as a PDF to open or keep."""
    poster = poster_content(program, location=location, locale=language, url=url)
    key = poster_key(poster, paper)
    if request.if_none_match.contains(key):
        response = Response(status=304)
    else:
        response = Response(poster_cache().poster(poster, paper, key).pdf,
                            mimetype="application/pdf")
        filename = f"{program.slug}-poster-{paper.value.lower()}-{language}.pdf"
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.set_etag(key)
    response.headers["Cache-Control"] = "private, no-cache"  # the key's; ask each time
    return response
