"""What the hostile-input tests share: a snapshot of every row of every table, to assert
that a refused request changed nothing, and the world those requests aim at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (every table is in the metadata)
from app.db import Base

# Written by a request that authenticates, whatever it then asks for.
VOLATILE_COLUMNS = frozenset({("api_keys", "last_used_at")})


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in key order, read in transactions that end at once (so that the
    test never holds SQLite's write lock while the app works)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        columns = [column for column in table.columns
                   if (table.name, column.name) not in VOLATILE_COLUMNS]
        session.rollback()
        try:
            rows = session.execute(select(*columns).order_by(*table.primary_key.columns))
            tables[table.name] = [tuple(row) for row in rows]
        finally:
            session.rollback()
    return tables


@dataclass(frozen=True)
class World:
    """A program with a location, a card that bought something, an offer, and the alert
    of a purchase its velocity limit refused (the limit is off again)."""

    program: dict[str, Any]
    location: dict[str, Any]
    card: dict[str, Any]
    purchase: dict[str, Any]
    offer: dict[str, Any]
    alert: dict[str, Any] = field(default_factory=dict)

    def path(self, template: str) -> str:
        return template.format(program=self.program["id"], location=self.location["id"],
                               card=self.card["id"], purchase=self.purchase["id"],
                               offer=self.offer["id"], slug=self.program["slug"])


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    problem: dict[str, Any] = response.get_json()
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/problem+json"
    assert problem["status"] == status
    if code is not None:
        assert problem["code"] == code, problem
    return problem


def build_world(api: Any) -> World:
    """Made through the API with ``api``'s key (an owner's)."""
    program = _created(api.post("/api/v1/programs", {
        "name": "Kava Club", "currency": "UAH", "earn_percent": 2,
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2}]}))
    location = _created(api.post(f"/api/v1/programs/{program['id']}/locations",
                                 {"name": "Podil", "address": "Kyiv"}))
    card = _created(api.post(f"/api/v1/programs/{program['id']}/cards",
                             {"name": "Olena", "email": "olena@example.com",
                              "marketing_consent": True}))
    purchase = _created(api.post("/api/v1/pos/purchases",
                                 {"barcode": card["barcode"]["message"], "amount": 10_000},
                                 headers={"Idempotency-Key": "world-purchase"}))
    offer = _created(api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "Coffee"}))
    return World(program=program, location=location, card=card, purchase=purchase,
                 offer=offer, alert=_alert(api, program, card))


def _alert(api: Any, program: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    """The alert of a purchase past a limit of one an hour, set for it and unset after."""
    path = f"/api/v1/programs/{program['id']}"
    for limit, purchase, status in ((1, "world-limited", 429), (None, None, None)):
        patched = api.patch(path, {"limits": {"purchases_per_card_per_hour": limit}})
        assert patched.status_code == 200, patched.get_json()
        if purchase is not None:
            refused = api.post("/api/v1/pos/purchases",
                               {"barcode": card["barcode"]["message"], "amount": 1_000},
                               headers={"Idempotency-Key": purchase})
            assert refused.status_code == status, refused.get_json()
    alert: dict[str, Any] = api.get("/api/v1/alerts").get_json()["alerts"][0]
    return alert


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body
