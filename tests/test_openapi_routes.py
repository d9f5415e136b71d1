"""The API's description is made from the routes the app serves: every route under
``/api/v1`` is described (a route added without its documentation fails here), nothing
is described that no route serves, and an operation's roles are those its view admits."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response

from app.web.auth import requires
from app.web.openapi import documented, openapi_document, response_doc
from tests.conftest import BASE_URL

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # werkzeug's own, for every route


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the routes are the same on either database."""
    path = tmp_path / "routes.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _served(app: Flask) -> set[tuple[str, str]]:
    """(path with its parameter as {id}, method) of every API route the app serves."""
    return {(re.sub(r"<[^<>]+>", "{id}", rule.rule), method.lower())
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
            for method in (rule.methods or set()) - IGNORED_METHODS}


def _described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items()
            for method in item if method != "parameters"}


def test_every_api_route_is_described_and_every_described_operation_is_served(
        app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    served = _served(app)
    assert len(served) >= 30  # programs, cards, the counter, keys, offers, deliveries
    assert served - _described(document) == set(), "routes missing from the description"
    assert _described(document) - served == set(), "described, but no route serves them"


def _thing(thing_id: int) -> Response:
    return Response(str(thing_id))


def test_a_route_added_without_its_documentation_is_missing_from_the_description(
        app: Flask) -> None:
    app.add_url_rule("/api/v1/things/<int:thing_id>", "undocumented_thing",
                     requires("owner")(_thing), methods=["GET", "DELETE"])
    missing = _served(app) - _described(openapi_document(BASE_URL, app))
    assert missing == {("/api/v1/things/{id}", "get"), ("/api/v1/things/{id}", "delete")}


def test_a_documented_route_is_described_with_the_roles_its_view_admits(app: Flask) -> None:
    view = documented("A thing", {"200": response_doc("the thing")})(
        requires("analyst", "owner")(_thing))
    app.add_url_rule("/api/v1/things/<int:thing_id>", "documented_thing", view,
                     methods=["GET"])
    document = openapi_document(BASE_URL, app)
    assert _served(app) == _described(document)
    operation = document["paths"]["/api/v1/things/{id}"]["get"]
    assert operation["summary"] == "A thing"
    assert operation["description"] == "Roles: owner, analyst."
    assert operation["responses"]["403"]["description"] == (
        "role_forbidden: only owner, analyst keys")
    assert set(operation["responses"]) == {"200", "401", "403", "404", "429", "503"}
