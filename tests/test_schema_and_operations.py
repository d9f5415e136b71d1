"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

import app.models  # noqa: F401
from app.db import Base
from app.migrations import current_revision, head_revision


# SQLite cannot reflect expression indexes; the search's are PostgreSQL's only (0015).
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert current_revision(connection) == head_revision()


def test_readyz_reports_the_migration(client: object) -> None:
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.get_json()["migration"] == head_revision()


def test_metrics_count_requests_by_route_not_by_path(client: object) -> None:
    client.get("/healthz")  # type: ignore[attr-defined]
    client.get("/passkit/v1/devices/abc/registrations/pass.x")  # type: ignore[attr-defined]
    text = client.get("/metrics").get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'loyalpass_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert "/passkit/v1/devices/<device>/registrations/<pass_type>" in text
    assert "/devices/abc/" not in text
