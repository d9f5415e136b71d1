"""The API against its own description: schemathesis generates requests from
``/api/openapi.json`` (valid and invalid ones) for every operation and sends them to the
real app on SQLite, in process, with a real owner key; half the generated path ids and
barcodes are swapped for ones that exist, so that operations reach their logic.

Every answer must be no server error, have a status the description lists for the
operation, and match the schema it gives for that status. Bounded and derandomized, so
that a run is the same everywhere and short.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Api
from tests.hostile import World, build_world

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 60
SEED = 20261204


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the run's point is the description, not the database."""
    path = tmp_path / "schemathesis.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


@dataclass(frozen=True)
class Keys:
    own: int  # the owner's key every request carries: never to be revoked
    spare: int  # one the run may revoke instead


@pytest.fixture
def keys(api: Api) -> Keys:
    [own] = [key["id"] for key in api.get("/api/v1/api-keys").get_json()["api_keys"]]
    response = api.post("/api/v1/api-keys", {"role": "analyst", "name": "spare"})
    assert response.status_code == 201
    return Keys(own=own, spare=response.get_json()["id"])


@pytest.fixture
def api_schema(app: Flask, api: Api, world: World) -> Any:
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {api.key}"},
        "generation": {"deterministic": True, "max-examples": EXAMPLES_PER_OPERATION,
                       "database": "none"},
    })
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def _real(case: Any, world: World, keys: Keys) -> None:
    """Swap half the generated ids and barcodes (by their parity) for real ones."""
    real_ids = {"/api/v1/programs/": world.program["id"], "/api/v1/cards/": world.card["id"],
                "/api/v1/pos/purchases/": world.purchase["id"],
                "/api/v1/offers/": world.offer["id"], "/api/v1/alerts/": world.alert["id"],
                "/api/v1/api-keys/": keys.spare}
    prefix = next((p for p in real_ids if case.operation.path.startswith(p)), None)
    generated = str((case.path_parameters or {}).get("id", ""))
    if prefix is not None and generated.isascii() and generated.isdigit():
        number = int(generated)
        if number % 2 == 0 or (prefix == "/api/v1/api-keys/" and number == keys.own):
            case.path_parameters["id"] = real_ids[prefix]
    if isinstance(case.body, dict) and isinstance(case.body.get("barcode"), str) and (
            len(case.body["barcode"]) % 2 == 0):
        case.body["barcode"] = world.card["barcode"]["message"]


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
          database=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_description_says(case: Any, world: World, keys: Keys) -> None:
    _real(case, world, keys)
    case.call_and_validate(checks=CHECKS)
