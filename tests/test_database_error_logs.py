"""A database error reaches the log without the values of its statement: neither the SQL
parameters nor PostgreSQL's DETAIL (which quotes the row), on SQLite and PostgreSQL.

The error is forced with a rule the test adds to its own database (a CHECK constraint on
PostgreSQL, a trigger on SQLite) refusing one customer's email, and removed afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.db import describe_error
from tests.conftest import Api, database_kind

SECRET_EMAIL = "olena.secret@example.com"
SECRET_NAME = "Olena Secretname"


@pytest.fixture
def refusing_the_email(engine: Engine) -> Iterator[None]:
    postgres = database_kind(str(engine.url)) == "postgresql"
    with engine.begin() as connection:
        if postgres:
            connection.execute(text(
                "ALTER TABLE customers ADD CONSTRAINT ck_customers_test_refusal"
                f" CHECK (email IS DISTINCT FROM '{SECRET_EMAIL}')"))
        else:
            connection.execute(text(
                "CREATE TRIGGER test_refusal BEFORE INSERT ON customers"
                f" WHEN NEW.email = '{SECRET_EMAIL}'"
                " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    yield
    with engine.begin() as connection:
        connection.execute(text(
            "ALTER TABLE customers DROP CONSTRAINT ck_customers_test_refusal" if postgres
            else "DROP TRIGGER test_refusal"))


def test_a_failed_enrolment_is_logged_without_the_customers_email_or_name(
        api: Api, program: dict[str, Any], refusing_the_email: None,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": SECRET_NAME, "email": SECRET_EMAIL})
    assert response.status_code == 500
    assert SECRET_EMAIL not in response.get_data(as_text=True)
    logged = "\n".join(record.getMessage() + (record.exc_text or "")
                       for record in caplog.records)
    assert "unhandled database error" in logged
    assert "customers" in logged  # what failed, and where, are still there
    assert "olena.secret" not in caplog.text and "Secretname" not in caplog.text
    assert "olena.secret" not in logged and "Secretname" not in logged


def test_the_description_of_a_constraint_violation_names_the_constraint_not_the_row(
        engine: Engine, refusing_the_email: None) -> None:
    with pytest.raises(IntegrityError) as caught, engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customers (merchant_id, name, email, locale, marketing_consent,"
            " created_at) VALUES (1, :name, :email, 'en', false, CURRENT_TIMESTAMP)"),
            {"name": SECRET_NAME, "email": SECRET_EMAIL})
    description = describe_error(caught.value)
    assert "IntegrityError" in description or "Violation" in description
    assert "INSERT INTO customers" in description
    assert SECRET_EMAIL not in description and SECRET_NAME not in description
    assert "[SQL parameters hidden" in str(caught.value)
