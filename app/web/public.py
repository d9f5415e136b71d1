"""The customer's pages: the join form behind the counter QR code, and the program's
public artwork (logo, colours). The card's own page is ``app.web.card_page``.

The join form never shows or links a card that already exists: a returning customer is
told where their card is (``app.cards.recovery``), whoever typed their email or phone.
Pages that show a card, and the answers about one, are never cached (``no-store``).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.cards import recovery
from app.cards.attribution import campaign_source, enrolment_origins
from app.cards.contacts import ContactInvalid, phone_example
from app.cards.rotation import kept_origin
from app.clock import utcnow
from app.errors import Invalid, NotFound, RateLimited
from app.i18n import using_locale
from app.merchants.models import Location, Program
from app.merchants.service import program_by_slug, program_location
from app.texts import localized
from app.validation import parse_id
from app.web.context import db, runtime
from app.web.forms import JoinForm, fields_in_error
from app.web.limits import LimitName, rate_limits
from app.web.pages import page, page_locale
from app.web.security import no_store

blueprint = Blueprint("public", __name__)


def _location(program: Program) -> Location | None:
    """The location the QR code named; an unknown one (any other text) is left out."""
    return program_location(db(), program=program,
                            location_id=parse_id(request.values.get("location")))


def _source() -> str | None:
    """The link's campaign tag (``?src=``); any other text is left out, as if none."""
    return campaign_source(request.values.get("src"))


@blueprint.get("/join/<slug>")
def join_form(slug: str) -> Response:
    program = program_by_slug(db(), slug)
    locale = page_locale(program)
    location = _location(program)
    with using_locale(locale):
        form = JoinForm.for_program(program, formdata=None)
        form.location.data = str(location.id) if location is not None else ""
        return _join_page(program, locale, form)


@blueprint.post("/join/<slug>")
@no_store
def join(slug: str) -> BaseResponse:
    program = program_by_slug(db(), slug)
    locale = page_locale(program)
    try:  # before the form is read: a refused request creates nothing
        rate_limits().check(LimitName.JOIN_PER_ADDRESS, LimitName.JOIN_PER_PROGRAM)
    except RateLimited as refused:
        return busy_page(refused, program, locale)
    location, source = _location(program), _source()
    with using_locale(locale):
        form = JoinForm.for_program(program)
        if not form.validate():
            return _join_page(program, locale, form, 400 if form.expired else 422)
        try:
            joined = recovery.join(db(), program=program, data=form.enrolment(locale),
                                   location_id=location.id if location else None,
                                   source=source, requested_from=request.remote_addr,
                                   enrolled_from=_origin(program),
                                   mail_allowed=_mail_budget)
        except ContactInvalid as invalid:  # the rules moved between the two checks
            form.show_faults(invalid)
            return _join_page(program, locale, form, 422)
        except Invalid as problem:
            form.show_problem(problem)
            return _join_page(program, locale, form, 422)
    if joined.card is not None:
        token = runtime().wallet.card_token(joined.card)
        return redirect(url_for("card.card_page", token=token, lang=locale), code=303)
    # A returning customer: one page per kind of answer, and nothing of theirs on it.
    return page("returning.html", program, locale, reply=joined.reply.value,
                minutes=recovery.LINK_MINUTES)


def _origin(program: Program) -> str | None:
    """The keyed digest of where the join form came from (``app.cards.attribution``)."""
    return kept_origin(db(), program_id=program.id, now=utcnow(), origins=enrolment_origins(
        request.remote_addr, runtime().wallet.scan_keys))


def _join_page(program: Program, locale: str, form: JoinForm, status: int = 200) -> Response:
    return page("join.html", program, locale, status, form=form, source=_source(),
                errors=fields_in_error(form), documents=_documents(program, locale),
                phone_example=phone_example(program.country),
                today=utcnow().date().isoformat())


def _documents(program: Program, locale: str) -> dict[str, str]:
    """Where the join form links the merchant's terms and privacy notice: their own
    site's page, or the text they gave served here; neither when there is none."""
    links: dict[str, str] = {}
    terms = localized(program.terms_given, locale, program.locales)
    for kind, url, text in (("terms", program.terms_url, terms),
                            ("privacy", program.privacy_url, program.privacy)):
        if url:
            links[kind] = url
        elif text.strip():
            links[kind] = url_for("public.document", slug=program.slug, kind=kind,
                                  lang=locale)
    return links


@blueprint.get("/join/<slug>/<any(terms, privacy):kind>")
def document(slug: str, kind: str) -> Response:
    """The merchant's terms or privacy notice, as they wrote it; 404 when they gave none
    (or gave a URL of their own, which the join form links instead)."""
    program = program_by_slug(db(), slug)
    locale = page_locale(program)
    text = (localized(program.terms_given, locale, program.locales) if kind == "terms"
            else program.privacy)
    if not text.strip():
        raise NotFound("No such page.")
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")
                  if part.strip()]
    return page("document.html", program, locale, kind=kind, paragraphs=paragraphs,
                join_url=url_for("public.join_form", slug=program.slug, lang=locale))


def _mail_budget() -> bool:
    """Whether this client address may still have recovery mails sent (to anyone)."""
    return rate_limits().allows(LimitName.RECOVERY_MAILS)


def busy_page(refused: RateLimited, program: Program | None, locale: str) -> Response:
    """429 as a page: try again in a moment, in the customer's language."""
    response = page("busy.html", program, locale, 429)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


@blueprint.errorhandler(RateLimited)
def refused_page(refused: RateLimited) -> Response:
    """429 for a page behind ``@limited`` (``app.web.limits``), which knows no program:
    this blueprint's pages get it; another blueprint of pages registers it too
    (``blueprint.register_error_handler(RateLimited, refused_page)``)."""
    return busy_page(refused, None, page_locale(None))


@blueprint.get("/p/<slug>/logo.png")
def program_logo(slug: str) -> Response:
    """The program's square mark, public: Google Wallet fetches it for the class."""
    program = program_by_slug(db(), slug)
    response = Response(runtime().wallet.program_mark(program), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


ICON_SIDE = 96  # pixels: the pages show it at 48 CSS pixels, sharp on a 2x screen


@blueprint.get("/p/<slug>/icon.png")
def program_icon(slug: str) -> Response:
    """The program's mark, small, for its pages (and their tab icon): a few kilobytes,
    where the 660-pixel mark may weigh more than the whole page should. Links carry the
    design version, so it may be cached."""
    program = program_by_slug(db(), slug)
    response = Response(runtime().wallet.program_mark(program, side=ICON_SIDE),
                        mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/p/<slug>/theme.css")
def program_theme(slug: str) -> Response:
    """The program's colours for its pages, as a stylesheet (the pages' policy allows no
    inline style). Colours are validated ``#rrggbb`` values; links carry the design
    version, so a colour change is a new URL and this one may be cached."""
    colors = program_by_slug(db(), slug).colors
    css = (f":root {{ --bg: {colors['background']}; --fg: {colors['foreground']}; "
           f"--label: {colors['label']}; }}\n")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
