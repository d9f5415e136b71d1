"""The dashboard's home (the merchant's programs) and the API keys page."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.analytics.budget import programs_with_budgets
from app.merchants import service as merchants
from app.merchants import staff as staff_service
from app.merchants.access import OWNERS, READERS
from app.web.certificates import certificate_health
from app.web.context import db
from app.web.dashboard import EVERYONE, blueprint, dashboard_locale, render
from app.web.dashboard.forms import ApiKeyForm
from app.web.dashboard.signin import principal_now, staff_required, where
from app.web.formats import page_formats


@blueprint.get("/")
@staff_required(*EVERYONE)
def home() -> Response:
    principal = principal_now()
    tiles = programs_with_budgets(db(), merchant_id=principal.merchant_id,
                                  read_budgets=principal.role in READERS
                                  and not principal.limited)
    # The service's own certificates: whoever runs it is told weeks before one expires.
    certificates = [one for one in certificate_health() if one.needs_attention] \
        if principal.role in OWNERS else []
    return render("dashboard/home.html", tiles=tiles, certificates=certificates,
                  formats=page_formats(dashboard_locale(), "USD"))


def _keys_page(form: ApiKeyForm, *, secret: str | None = None, status: int = 200) -> Response:
    merchant_id = principal_now().merchant_id
    keys = merchants.list_api_keys(db(), merchant_id=merchant_id)
    locations = dict(form.location.choices or [])  # type: ignore[arg-type]
    return render("dashboard/keys.html", status=status, form=form, secret=secret,
                  keys=[key for key in keys if key.revoked_at is None], location_names=locations)


def _key_form() -> ApiKeyForm:
    form = ApiKeyForm(request.form if request.method == "POST" else None)
    form.offer([(location.id, location.name) for location in staff_service.list_locations(
        db(), merchant_id=principal_now().merchant_id)])
    return form


@blueprint.get("/keys")
@staff_required(*OWNERS)
def keys() -> Response:
    return _keys_page(_key_form())


@blueprint.post("/keys")
@staff_required(*OWNERS)
def create_key() -> Response:
    form = _key_form()
    if not form.validate():
        return _keys_page(form, status=422)
    issued = merchants.issue_api_key(db(), merchant_id=principal_now().merchant_id,
                                     role=form.role.data or "", name=form.name.data or "",
                                     location_id=form.location.data or None,
                                     by=principal_now(), where=where())
    # Shown once, on this answer only (no-store): only the key's hash is kept.
    return _keys_page(_blank_key_form(), secret=issued.secret)


def _blank_key_form() -> ApiKeyForm:
    form = ApiKeyForm(None)
    form.offer([(location.id, location.name) for location in staff_service.list_locations(
        db(), merchant_id=principal_now().merchant_id)])
    return form


@blueprint.post("/keys/<int:key_id>/revoke")
@staff_required(*OWNERS)
def revoke_key(key_id: int) -> WerkzeugResponse:
    merchants.revoke_api_key(db(), merchant_id=principal_now().merchant_id, key_id=key_id,
                             by=principal_now(), where=where())
    return redirect(url_for("dashboard.keys"))
