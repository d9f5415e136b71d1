"""The API description tells the truth where schemathesis (which sends an owner's key)
does not look: what each role, no key and a made-up key are answered, and a body past the
size limit. Each status the server answers is one the description lists for the operation,
and a problem matches its Problem schema."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from app.config import Config
from app.merchants.models import Program
from app.merchants.service import create_api_key
from tests.conftest import Api
from tests.hostile import World, build_world

ROLES = ("owner", "manager", "cashier", "analyst")
# A body each operation accepts, so that only the key decides what is answered.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/programs"): {"name": "Roles"},
    ("patch", "/api/v1/programs/{id}"): {"reward_text": "Tea"},
    ("post", "/api/v1/programs/{id}/locations"): {"name": "Obolon"},
    ("post", "/api/v1/programs/{id}/cards"): {"name": "Ira", "email": "ira@example.com"},
    ("post", "/api/v1/api-keys"): {"role": "analyst"},
    ("post", "/api/v1/cards/{id}/adjustments"): {"points": 1, "reason": "roles"},
    ("post", "/api/v1/programs/{id}/offers"): {"title": "Roles"},
    ("post", "/api/v1/webhooks"): {"url": "https://hooks.example.com/in",
                                   "events": ["card.created"]},
}
NO_SUCH_ID = 999_999  # a webhook endpoint or delivery the world does not have: 404


@pytest.fixture
def config(config: Config) -> Config:
    # Every operation is sent a missing and a made-up key here: more failures than an
    # address may make (the limit's 429 is tested in test_rate_limits.py).
    return config.with_changes(limit_auth_failures="10000/minute")


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    value: dict[str, Any] = client.get("/api/openapi.json").get_json()
    return value


def _problem_validator(document: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(document["components"]["schemas"]["Problem"])


def _path(template: str, world: World, spare_key: int) -> str:
    ids = {"programs": world.program["id"], "cards": world.card["id"],
           "purchases": world.purchase["id"], "offers": world.offer["id"],
           "alerts": world.alert["id"], "api-keys": spare_key, "webhooks": NO_SUCH_ID,
           "deliveries": NO_SUCH_ID}
    return re.sub(r"/([a-z-]+)/\{id\}", lambda m: f"/{m.group(1)}/{ids[m.group(1)]}", template)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method != "parameters"]


def test_every_role_no_key_and_a_made_up_key_get_only_documented_answers(
        client: FlaskClient, api: Api, world: World, session: Session,
        document: dict[str, Any]) -> None:
    program = session.get(Program, world.program["id"])
    assert program is not None
    merchant_id = program.merchant_id
    session.rollback()
    keys = {role: create_api_key(session, merchant_id=merchant_id, role=role, name=role)
            for role in ROLES}
    spare = api.post("/api/v1/api-keys", {"role": "analyst", "name": "spare"}).get_json()["id"]
    callers: dict[str, dict[str, str]] = {
        **{role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()},
        "no key": {}, "made-up key": {"Authorization": "Bearer lp_0123456789ab_" + "x" * 43}}
    problems = _problem_validator(document)
    answered: dict[str, set[int]] = {}
    for method, template, operation in _operations(document):
        for caller, headers in callers.items():
            body = BODIES.get((method, template), {})
            kwargs: dict[str, Any] = {"json": body}
            if template.endswith("/logo"):
                kwargs = {"data": b"not an image", "content_type": "image/png"}
            response = client.open(_path(template, world, spare), method=method.upper(),
                                   headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                                   **kwargs)
            status = str(response.status_code)
            assert status in operation["responses"], (caller, method, template, status)
            if response.status_code >= 400:
                problems.validate(response.get_json())
            answered.setdefault(caller, set()).add(response.status_code)
    assert 403 in answered["cashier"] and 403 in answered["analyst"]
    assert answered["no key"] == {401} and answered["made-up key"] == {401}


def test_a_body_past_4_mib_is_a_documented_413(
        api: Api, world: World, document: dict[str, Any]) -> None:
    """Past 4 MiB, or past the operation's own limit where its 413 names one (an
    import's 16 MiB)."""
    problems = _problem_validator(document)
    for method, template, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        limit = re.search(r"over (\d+) MiB", operation["responses"]["413"]["description"])
        mebibytes = int(limit.group(1)) if limit else 4
        huge = b'{"name": "' + b"x" * (mebibytes * 1024 * 1024) + b'"}'
        response = api.client.open(
            _path(template, world, 0), method=method.upper(), data=huge,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "big"})
        assert response.status_code == 413, (method, template, response.status_code)
        assert "413" in operation["responses"]
        problems.validate(response.get_json())
