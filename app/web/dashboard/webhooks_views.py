"""The dashboard's webhooks page: the merchant's endpoints (one made with its secret shown
once), each endpoint's delivery log with redelivery, and deleting an endpoint. The same
use cases as ``/api/v1/webhooks`` (``app.webhooks.service``), for owners and managers."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Invalid
from app.merchants.access import WRITERS
from app.outbox.webhooks import EVENT_TYPES
from app.validation import parse
from app.web.context import db, runtime
from app.web.dashboard import blueprint, render
from app.web.dashboard.signin import principal_now, staff_required
from app.webhooks import service as webhooks
from app.webhooks.schemas import WebhookCreate

LOG_PAGE = 50


def _page(*, secret: str | None = None, url: str = "", events: list[str] | None = None,
          error: str | None = None, status: int = 200) -> Response:
    endpoints = webhooks.list_endpoints(db(), merchant_id=principal_now().merchant_id)
    return render("dashboard/webhooks.html", status=status, endpoints=endpoints,
                  secret=secret, url=url, chosen=events or [], error=error,
                  event_types=EVENT_TYPES)


@blueprint.get("/webhooks")
@staff_required(*WRITERS)
def webhooks_page() -> Response:
    return _page()


@blueprint.post("/webhooks")
@staff_required(*WRITERS)
def create_webhook() -> Response:
    url, events = request.form.get("url", "").strip(), request.form.getlist("events")
    try:
        created = webhooks.create_endpoint(
            db(), merchant_id=principal_now().merchant_id,
            data=parse(WebhookCreate, {"url": url, "events": events}),
            allow_private=runtime().config.webhooks_allow_private)
    except Invalid as refused:
        return _page(url=url, events=events, error=refused.detail, status=422)
    # Shown once, on this answer only (no-store).
    return _page(secret=created.secret)


@blueprint.get("/webhooks/<int:endpoint_id>")
@staff_required(*WRITERS)
def webhook_page(endpoint_id: int) -> Response:
    merchant_id = principal_now().merchant_id
    endpoint = webhooks.get_endpoint(db(), merchant_id=merchant_id, endpoint_id=endpoint_id)
    rows, _ = webhooks.deliveries(db(), merchant_id=merchant_id, endpoint_id=endpoint.id,
                                  limit=LOG_PAGE, before=None)
    return render("dashboard/webhook.html", endpoint=endpoint, deliveries=rows,
                  done=request.args.get("done"))


@blueprint.post("/webhooks/<int:endpoint_id>/delete")
@staff_required(*WRITERS)
def delete_webhook(endpoint_id: int) -> WerkzeugResponse:
    webhooks.delete_endpoint(db(), merchant_id=principal_now().merchant_id,
                             endpoint_id=endpoint_id)
    return redirect(url_for("dashboard.webhooks_page"))


@blueprint.post("/webhook-deliveries/<int:delivery_id>/redeliver")
@staff_required(*WRITERS)
def redeliver_webhook(delivery_id: int) -> WerkzeugResponse:
    delivery = webhooks.redeliver(db(), merchant_id=principal_now().merchant_id,
                                  delivery_id=delivery_id)
    return redirect(url_for("dashboard.webhook_page", endpoint_id=delivery.endpoint_id,
                            done="redelivered"))
