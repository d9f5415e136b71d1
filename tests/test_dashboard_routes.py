"""Every dashboard route is in this matrix (read from the app's URL map: a route added
without an entry fails here), and each keeps the same rules: a visitor who is not signed
in is sent to the login page, another merchant's object is a 404, a role that may not is
a 403, and a POST without the CSRF token is a 400; none of them changes anything."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from app.cards.schemas import EnrolmentInput
from app.cards.service import enroll
from app.ledger.models import Purchase
from app.merchants.access import ANALYST, CASHIER, COUNTER, MANAGER, OWNERS, READERS, WRITERS
from app.merchants.models import Program
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from app.web.dashboard import EVERYONE
from app.web.dashboard.signin import PUBLIC, REQUIRED_ROLES
from tests.dashboard_helpers import (
    PASSWORD,
    csrf_of,
    draft_offer,
    key_of,
    location,
    member,
    merchant_with_owner,
    signed_in,
    snapshot,
    velocity_alert,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class World:
    """Two merchants: ours (a member of each role) and theirs (a member and a key)."""

    ours: dict[str, str]  # role: email
    our_member: int
    our_key: int
    their_member: int
    their_key: int
    location: int
    program: int
    their_program: int
    card: int
    their_card: int
    their_location: int
    our_offer: int = 0
    their_offer: int = 0
    our_alert: int = 0
    their_alert: int = 0
    our_purchase: int = 0
    their_purchase: int = 0
    our_webhook: int = 0
    their_webhook: int = 0
    our_delivery: int = 0
    their_delivery: int = 0


def _webhook(session: Session, program: Program) -> tuple[int, int]:
    """An endpoint of the program's merchant, and a delivery to it."""
    from app.outbox.webhooks import webhook_event
    from app.webhooks.models import WebhookDelivery
    from app.webhooks.schemas import WebhookCreate
    from app.webhooks.service import create_endpoint

    endpoint = create_endpoint(session, merchant_id=program.merchant_id, allow_private=False,
                               data=WebhookCreate(url="https://hooks.example.com/in",
                                                  events=["card.created"])).endpoint.id
    webhook_event(session, merchant_id=program.merchant_id, event_type="card.created",
                  card_id=None, data={})
    session.commit()
    delivery = session.query(WebhookDelivery.id).filter_by(endpoint_id=endpoint).scalar()
    session.commit()
    return endpoint, delivery


def _purchase(session: Session, program: Program, card_id: int) -> int:
    """A purchase on the card (for the cashier screen's refund route)."""
    purchase = Purchase(merchant_id=program.merchant_id, program_id=program.id,
                        card_id=card_id, amount=5000, amount_paid=5000, earn_percent=0)
    session.add(purchase)
    session.commit()
    return purchase.id


@pytest.fixture
def world(session: Session) -> World:
    ours = merchant_with_owner(session, "Kava Bar")
    theirs = merchant_with_owner(session, "Chai Shop")
    program = create_program(session, merchant_id=ours.merchant_id,
                             data=ProgramCreate(name="Kava Club"))
    their_program = create_program(session, merchant_id=theirs.merchant_id,
                                   data=ProgramCreate(name="Chai Club"))
    place = location(session, ours.merchant_id, program.id, "Podil")
    card, their_card = (enroll(session, program=each, data=EnrolmentInput(
        name="Olena", email="olena@example.com")).card.id for each in (program, their_program))
    our_purchase, their_purchase = (_purchase(session, program, card),
                                    _purchase(session, their_program, their_card))
    their_place = location(session, theirs.merchant_id, their_program.id, "Lviv")
    (our_webhook, our_delivery), (their_webhook, their_delivery) = (
        _webhook(session, program), _webhook(session, their_program))
    emails = {"owner": ours.owner_email}
    for role in ("manager", "cashier", "analyst"):
        emails[role] = f"{role}@kavabar.example"
        member(session, ours.merchant_id, role, emails[role])
    return World(ours=emails, our_member=member(session, ours.merchant_id, "cashier",
                                                "second@kavabar.example"),
                 our_key=key_of(session, ours.merchant_id),
                 their_member=member(session, theirs.merchant_id, "cashier",
                                     "cashier@chaishop.example"),
                 their_key=key_of(session, theirs.merchant_id), location=place,
                 program=program.id, their_program=their_program.id, card=card,
                 their_card=their_card,
                 our_offer=draft_offer(session, program),
                 their_offer=draft_offer(session, their_program),
                 our_alert=velocity_alert(session, program, place),
                 their_alert=velocity_alert(session, their_program, None),
                 our_purchase=our_purchase, their_purchase=their_purchase,
                 our_webhook=our_webhook, their_webhook=their_webhook,
                 our_delivery=our_delivery, their_delivery=their_delivery,
                 their_location=their_place)


@dataclass(frozen=True)
class Route:
    """A dashboard route: the roles that may use it, its URL for our objects and for
    theirs (None: it names no object), and a form that would change something."""

    roles: tuple[str, ...]
    path: Callable[[World, bool], str]
    form: Callable[[World], dict[str, Any]] = field(default=lambda world: {})


def fixed(path: str) -> Callable[[World, bool], str]:
    return lambda world, theirs: path


def _member_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/staff/{world.their_member if theirs else world.our_member}{suffix}")


def _offer_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/offers/{world.their_offer if theirs else world.our_offer}{suffix}")


def _alert_path(suffix: str) -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/alerts/{world.their_alert if theirs else world.our_alert}{suffix}")


def _key_path(world: World, theirs: bool) -> str:
    return f"/dashboard/keys/{world.their_key if theirs else world.our_key}/revoke"


def _program_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/programs/{world.their_program if theirs else world.program}{suffix}")


def _card_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/cards/{world.their_card if theirs else world.card}{suffix}")


CONFIRMED = {"confirmed": "yes"}
IMPORTED = "name;email;balance\nTaras;taras@example.com;10\n"

def _counter_card(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/cashier/cards/{world.their_card if theirs else world.card}{suffix}")


def _refund_path(world: World, theirs: bool) -> str:
    purchase = world.their_purchase if theirs else world.our_purchase
    return f"/dashboard/cashier/purchases/{purchase}/refund"


def _webhook_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/webhooks/{world.their_webhook if theirs else world.our_webhook}{suffix}")


def _delivery_path(world: World, theirs: bool) -> str:
    delivery = world.their_delivery if theirs else world.our_delivery
    return f"/dashboard/webhook-deliveries/{delivery}/redeliver"


def _location_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/locations/{world.their_location if theirs else world.location}{suffix}")


def _program_form(world: World) -> dict[str, Any]:
    """The editor's whole form, with a new background colour."""
    return {"locales": "en", "name-en": "Kava Club", "kind": "points", "currency": "USD",
            "earn_percent": "5", "point_value": "1", "max_redeem_percent": "100",
            "barcode_format": "qr", "colors-background": "#0A5C36",
            "colors-foreground": "#FFFFFF", "colors-label": "#C9D3E6", "tier_rows": "1",
            "action": "save"}


def _logo(world: World) -> dict[str, Any]:
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 92, 54)).save(picture, format="PNG")
    picture.seek(0)
    return {"image": (picture, "logo.png")}


def _place(world: World) -> dict[str, Any]:
    return {"name": "Obolon", "address": "Obolonska 1", "latitude": "50.5",
            "longitude": "30.5"}


# Every guarded dashboard endpoint, with what it needs; "names an object" below.
ROUTES: dict[str, Route] = {
    "dashboard.home": Route(EVERYONE, fixed("/dashboard/")),
    "dashboard.password": Route(EVERYONE, fixed("/dashboard/password"), lambda world: {
        "current_password": PASSWORD, "password": "a new password 1", "confirm":
        "a new password 1"}),
    "dashboard.staff": Route(OWNERS, fixed("/dashboard/staff")),
    "dashboard.invite": Route(OWNERS, fixed("/dashboard/staff"), lambda world: {
        "email": "new@kavabar.example", "role": "cashier", "language": "en"}),
    "dashboard.member": Route(OWNERS, _member_path(), lambda world: {
        "role": "analyst", "locations": str(world.location)}),
    "dashboard.remove": Route(OWNERS, _member_path("/remove")),
    "dashboard.activity": Route(OWNERS, fixed("/dashboard/activity")),
    "dashboard.keys": Route(OWNERS, fixed("/dashboard/keys")),
    "dashboard.create_key": Route(OWNERS, fixed("/dashboard/keys"), lambda world: {
        "name": "till 2", "role": "cashier", "location": "0"}),
    "dashboard.revoke_key": Route(OWNERS, _key_path),
    "dashboard.offers_page": Route(READERS, fixed("/dashboard/offers")),
    "dashboard.new_offer": Route(WRITERS, lambda world, theirs: (
        f"/dashboard/programs/{world.program}/offers/new"), lambda world: {
        "title_en": "Free croissant", "promotional": "y"}),
    "dashboard.offer_page": Route(READERS, _offer_path()),
    "dashboard.offer_preview": Route(READERS, _offer_path("/preview.png")),
    "dashboard.publish_offer": Route(WRITERS, _offer_path("/publish")),
    "dashboard.automations_page": Route(READERS, _program_path("/automations")),
    "dashboard.save_automations": Route(WRITERS, _program_path("/automations"),
                                        lambda world: {
        "weekly_cap": "3", "birthday-enabled": "y", "birthday-title-en": "Happy birthday"}),
    "dashboard.end_offer": Route(WRITERS, _offer_path("/end")),
    "dashboard.alerts": Route(READERS, fixed("/dashboard/alerts")),
    "dashboard.acknowledge_alert": Route(WRITERS, _alert_path("/acknowledge")),
    "dashboard.block_alert_card": Route(WRITERS, _alert_path("/block")),
    "dashboard.customers_home": Route(READERS, fixed("/dashboard/customers")),
    "dashboard.analytics_home": Route(READERS, fixed("/dashboard/analytics")),
    "dashboard.analytics": Route(READERS, _program_path("/analytics")),
    "dashboard.analytics_csv": Route(READERS, _program_path("/analytics/days.csv")),
    "dashboard.customers": Route(READERS, _program_path("/customers")),
    "dashboard.card": Route(READERS, _card_path()),
    "dashboard.adjust_card": Route(WRITERS, _card_path("/adjust"), lambda world: {
        "points": "50", "reason": "lost receipt", "attempt": "matrix", **CONFIRMED}),
    "dashboard.block_card": Route(WRITERS, _card_path("/block"), lambda world: CONFIRMED),
    "dashboard.unblock_card": Route(WRITERS, _card_path("/unblock"), lambda world: CONFIRMED),
    "dashboard.revoke_card_link": Route(WRITERS, _card_path("/link"),
                                        lambda world: CONFIRMED),
    "dashboard.mail_link": Route(WRITERS, _card_path("/mail-link"), lambda world: CONFIRMED),
    "dashboard.import_customers": Route(WRITERS, _program_path("/import"), lambda world: {
        "data": IMPORTED, "skip_invalid": "y", **CONFIRMED}),
    "dashboard.export_customers": Route(READERS, _program_path("/customers.csv")),
    "dashboard.cashier": Route(COUNTER, fixed("/dashboard/cashier?q=olena")),
    "dashboard.cashier_card": Route(COUNTER, _counter_card()),
    "dashboard.cashier_purchase": Route(COUNTER, _counter_card("/purchases"), lambda world: {
        "key": "dashboard-matrix-sale", "amount": "12,50", "location": str(world.location)}),
    "dashboard.cashier_refund": Route(COUNTER, _refund_path, lambda world: {
        f"refund{world.our_purchase}-key": "dashboard-matrix-refund",
        f"refund{world.our_purchase}-location": str(world.location)}),
    "dashboard.segments_page": Route(READERS, _program_path("/segments")),
    "dashboard.refresh_program_segments": Route(WRITERS, _program_path("/segments/refresh")),
    "dashboard.program": Route(READERS, _program_path()),
    "dashboard.save_program": Route(WRITERS, _program_path(), _program_form),
    "dashboard.program_preview": Route(READERS, _program_path("/preview.png")),
    "dashboard.upload_artwork": Route(WRITERS, _program_path("/artwork/logo"), _logo),
    "dashboard.new_program": Route(WRITERS, fixed("/dashboard/programs/new")),
    "dashboard.create_program": Route(WRITERS, fixed("/dashboard/programs/new"),
                                      _program_form),
    "dashboard.locations": Route(READERS, _program_path("/locations")),
    "dashboard.create_location": Route(WRITERS, _program_path("/locations"), _place),
    "dashboard.location": Route(READERS, _location_path()),
    "dashboard.save_location": Route(WRITERS, _location_path(), _place),
    "dashboard.location_qr": Route((*READERS, CASHIER), _location_path("/qr.png")),
    "dashboard.location_poster": Route((*READERS, CASHIER),
                                       _location_path("/poster-A4-uk.pdf")),
    "dashboard.webhooks_page": Route(WRITERS, fixed("/dashboard/webhooks")),
    "dashboard.create_webhook": Route(WRITERS, fixed("/dashboard/webhooks"), lambda world: {
        "url": "https://hooks.example.com/new", "events": "card.created"}),
    "dashboard.webhook_page": Route(WRITERS, _webhook_path()),
    "dashboard.delete_webhook": Route(WRITERS, _webhook_path("/delete")),
    "dashboard.redeliver_webhook": Route(WRITERS, _delivery_path),
}
NAMES_AN_OBJECT = {"dashboard.acknowledge_alert", "dashboard.adjust_card",
                   "dashboard.automations_page", "dashboard.save_automations",
                   "dashboard.analytics", "dashboard.analytics_csv",
                   "dashboard.block_alert_card", "dashboard.block_card", "dashboard.card",
                   "dashboard.cashier_card", "dashboard.cashier_purchase",
                   "dashboard.cashier_refund", "dashboard.create_location",
                   "dashboard.end_offer",
                   "dashboard.customers", "dashboard.export_customers",
                   "dashboard.import_customers", "dashboard.location",
                   "dashboard.location_poster", "dashboard.location_qr", "dashboard.locations",
                   "dashboard.mail_link", "dashboard.member", "dashboard.offer_page",
                   "dashboard.offer_preview", "dashboard.program", "dashboard.program_preview",
                   "dashboard.publish_offer", "dashboard.refresh_program_segments",
                   "dashboard.remove", "dashboard.revoke_card_link",
                   "dashboard.segments_page",
                   "dashboard.revoke_key", "dashboard.save_location", "dashboard.save_program",
                   "dashboard.unblock_card", "dashboard.upload_artwork",
                   "dashboard.webhook_page", "dashboard.delete_webhook",
                   "dashboard.redeliver_webhook"}
PUBLIC_ROUTES = {"dashboard.login", "dashboard.logout", "dashboard.forgot", "dashboard.link"}
# The role that may do the least above the ones a route admits ("a lower role").
LOWER = {OWNERS: MANAGER, WRITERS: ANALYST, READERS: CASHIER, COUNTER: ANALYST}


def _methods(app: Flask, endpoint: str) -> set[str]:
    return {method for rule in app.url_map.iter_rules() if rule.endpoint == endpoint
            for method in (rule.methods or set()) - IGNORED_METHODS}


def _dashboard_endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/dashboard")}


def _send(client: FlaskClient, method: str, path: str, form: dict[str, Any],
          csrf: str | None) -> Any:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**form, **({"csrf": csrf} if csrf else {})})


def test_every_dashboard_route_is_in_the_matrix_and_guarded(app: Flask) -> None:
    endpoints = _dashboard_endpoints(app)
    assert len(endpoints) >= 14
    assert endpoints - ROUTES.keys() - PUBLIC_ROUTES == set(), "routes missing from ROUTES"
    assert (ROUTES.keys() | PUBLIC_ROUTES) - endpoints == set(), "entries no route serves"
    for endpoint in endpoints:
        view = app.view_functions[endpoint]
        if endpoint in PUBLIC_ROUTES:
            assert getattr(view, PUBLIC, False), endpoint
        else:
            assert getattr(view, REQUIRED_ROLES) == ROUTES[endpoint].roles, endpoint


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_login_and_nothing_changes(
        app: Flask, session: Session, world: World) -> None:
    client = app.test_client()
    csrf = csrf_of(client)
    before = snapshot(session)
    for endpoint, route in ROUTES.items():
        for method in _methods(app, endpoint):
            response = _send(client, method, route.path(world, False), route.form(world), csrf)
            assert response.status_code == 302, (endpoint, method)
            assert response.headers["Location"].startswith("/dashboard/login?next="), endpoint
    assert snapshot(session) == before


def test_another_merchants_objects_are_404_and_nothing_changes(
        app: Flask, session: Session, world: World) -> None:
    client = signed_in(app, world.ours["owner"])
    csrf = csrf_of(client, "/dashboard/")
    before = snapshot(session)
    for endpoint in NAMES_AN_OBJECT:
        route = ROUTES[endpoint]
        for method in _methods(app, endpoint):
            response = _send(client, method, route.path(world, True), route.form(world), csrf)
            assert response.status_code == 404, (endpoint, method)
    assert snapshot(session) == before


def test_a_lower_role_is_refused_with_403_and_nothing_changes(
        app: Flask, session: Session, world: World) -> None:
    clients = {role: signed_in(app, email) for role, email in world.ours.items()}
    csrf = {role: csrf_of(client, "/dashboard/") for role, client in clients.items()}
    before = snapshot(session)
    checked = 0
    for endpoint, route in ROUTES.items():
        refused = [role for role in EVERYONE if role not in route.roles]
        for role in refused:
            for method in _methods(app, endpoint):
                response = _send(clients[role], method, route.path(world, False),
                                 route.form(world), csrf[role])
                assert response.status_code == 403, (endpoint, method, role)
                checked += 1
        if route.roles in LOWER:
            assert LOWER[route.roles] in refused
    assert checked >= 20
    assert snapshot(session) == before


def test_a_post_without_its_csrf_token_is_400_and_nothing_changes(
        app: Flask, session: Session, world: World) -> None:
    client = signed_in(app, world.ours["owner"])
    before = snapshot(session)
    posts = 0
    for endpoint, route in ROUTES.items():
        if "POST" in _methods(app, endpoint):
            response = _send(client, "POST", route.path(world, False), route.form(world), None)
            assert response.status_code == 400, endpoint
            posts += 1
    visitor = app.test_client()
    for path, form in (("/dashboard/login", {"email": world.ours["owner"],
                                              "password": PASSWORD}),
                       ("/dashboard/forgot", {"email": world.ours["owner"]}),
                       ("/dashboard/logout", {})):
        assert _send(visitor, "POST", path, form, None).status_code == 400, path
    assert posts >= 6
    assert snapshot(session) == before
    # The token was all that was missing: with it, the same form changes something.
    route = ROUTES["dashboard.member"]
    sent = _send(client, "POST", route.path(world, False), route.form(world),
                 csrf_of(client, "/dashboard/"))
    assert sent.status_code == 302
    assert snapshot(session) != before
