"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

import app.models  # noqa: F401
from app.cards.models import CARDS_FILLFACTOR
from app.db import Base
from app.ledger.purchase_rows import UPDATE_CARD
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


@pytest.mark.postgres
def test_a_purchase_changes_no_indexed_column_of_its_card_so_postgresql_updates_it_in_place(
    postgres_database: str
) -> None:
    """What a purchase writes into its card on every sale is in no index of ``cards``
    (keys or included columns), and the table leaves room on its pages: PostgreSQL then
    writes the card's new version beside the old one with no new index entries (HOT),
    instead of one in each of the card's ten indexes (0035)."""
    every_sale = set(re.findall(r"(\w+) = :", UPDATE_CARD.split(" WHERE ")[0])) - {"tier"}
    assert {"balance", "visits", "lifetime_spend", "pass_last_modified"} <= every_sale
    engine = create_engine(postgres_database, poolclass=NullPool)
    with engine.connect() as connection:
        indexed = dict(connection.execute(text(
            "SELECT attribute.attname, string_agg(index.relname, ', ')"
            " FROM pg_index JOIN pg_class AS index ON index.oid = pg_index.indexrelid"
            " JOIN pg_attribute AS attribute ON attribute.attrelid = pg_index.indrelid"
            " AND attribute.attnum = ANY (pg_index.indkey)"
            " WHERE pg_index.indrelid = 'cards'::regclass GROUP BY attribute.attname")).all())
        options = connection.scalar(text(
            "SELECT reloptions FROM pg_class WHERE oid = 'cards'::regclass"))
    assert "tier" in indexed  # the stats' index: a card changes tier rarely
    assert {column: indexed[column] for column in every_sale if column in indexed} == {}
    engine.dispose()
    assert options == [f"fillfactor={CARDS_FILLFACTOR}"]
