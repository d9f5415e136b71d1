"""The alerts page: the fraud alerts a program's velocity limits and the fraud detector
raised, newest first, with their card, cashier and what they rest on (the purchases or
cards); acknowledging one, and blocking its card. Owners and managers act; analysts read;
cashiers have no alerts. The same services as ``GET /api/v1/alerts``,
``POST /api/v1/alerts/{id}/acknowledge`` and ``POST /api/v1/cards/{id}/block``."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.ledger import alerts as fraud_alerts
from app.merchants.access import READERS, WRITERS
from app.validation import parse_id
from app.web.context import db
from app.web.dashboard import blueprint, dashboard_locale, render
from app.web.dashboard.signin import principal_now, staff_required, where
from app.web.formats import page_formats

PAGE = 50


@blueprint.get("/alerts")
@staff_required(*READERS)
def alerts() -> Response:
    principal = principal_now()
    program_id = parse_id(request.args.get("program"))
    before = parse_id(request.args.get("before"))
    page = fraud_alerts.alerts_page(db(), principal=principal, program_id=program_id,
                                    before=before, limit=PAGE)
    locale = dashboard_locale()
    formats = {program: page_formats(locale, currency)
               for program, currency in page.currencies.items()}
    return render("dashboard/alerts.html", page=page, program_id=program_id, formats=formats,
                  may_write=principal.role in WRITERS, done=request.args.get("done"))


def _back(done: str) -> WerkzeugResponse:
    program_id = parse_id(request.form.get("program"))
    return redirect(url_for("dashboard.alerts", program=program_id, done=done))


@blueprint.post("/alerts/<int:alert_id>/acknowledge")
@staff_required(*WRITERS)
def acknowledge_alert(alert_id: int) -> WerkzeugResponse:
    fraud_alerts.acknowledge_alert(db(), principal=principal_now(), alert_id=alert_id,
                                   where=where())
    return _back("acknowledged")


@blueprint.post("/alerts/<int:alert_id>/block")
@staff_required(*WRITERS)
def block_alert_card(alert_id: int) -> WerkzeugResponse:
    fraud_alerts.block_card_of_alert(db(), principal=principal_now(), alert_id=alert_id)
    return _back("blocked")
