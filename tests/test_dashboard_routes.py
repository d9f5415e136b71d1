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

from app.merchants.access import ANALYST, CASHIER, MANAGER, OWNERS, READERS, WRITERS
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from app.web.dashboard import EVERYONE
from app.web.dashboard.signin import PUBLIC, REQUIRED_ROLES
from tests.dashboard_helpers import (
    PASSWORD,
    csrf_of,
    key_of,
    location,
    member,
    merchant_with_owner,
    signed_in,
    snapshot,
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
    their_location: int


@pytest.fixture
def world(session: Session) -> World:
    ours = merchant_with_owner(session, "Kava Bar")
    theirs = merchant_with_owner(session, "Chai Shop")
    program = create_program(session, merchant_id=ours.merchant_id,
                             data=ProgramCreate(name="Kava Club")).id
    their_program = create_program(session, merchant_id=theirs.merchant_id,
                                   data=ProgramCreate(name="Chai Club")).id
    place = location(session, ours.merchant_id, program, "Podil")
    their_place = location(session, theirs.merchant_id, their_program, "Lviv")
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
                 program=program, their_program=their_program, their_location=their_place)


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


def _key_path(world: World, theirs: bool) -> str:
    return f"/dashboard/keys/{world.their_key if theirs else world.our_key}/revoke"


def _program_path(suffix: str = "") -> Callable[[World, bool], str]:
    return lambda world, theirs: (
        f"/dashboard/programs/{world.their_program if theirs else world.program}{suffix}")


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
}
NAMES_AN_OBJECT = {"dashboard.member", "dashboard.remove", "dashboard.revoke_key",
                   "dashboard.program", "dashboard.save_program", "dashboard.program_preview",
                   "dashboard.upload_artwork", "dashboard.locations",
                   "dashboard.create_location", "dashboard.location", "dashboard.save_location",
                   "dashboard.location_qr", "dashboard.location_poster"}
PUBLIC_ROUTES = {"dashboard.login", "dashboard.logout", "dashboard.forgot", "dashboard.link"}
# The role that may do the least above the ones a route admits ("a lower role").
LOWER = {OWNERS: MANAGER, WRITERS: ANALYST, READERS: CASHIER}


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
