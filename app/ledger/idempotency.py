"""Idempotency keys: a replay returns the first answer, another body under the key is 409.

The record is written in the same transaction as the work it guards, so either both
commit or neither does. Two requests racing with one key meet at the unique index:
the second waits for the first (PostgreSQL) or runs after it (SQLite's write lock),
then finds its record and replays it. Failed requests leave no record (nothing changed),
so a retry after a failure runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.errors import Conflict, Invalid
from app.ledger.models import IdempotencyRecord

KEY_PATTERN_MAX = 255
KEEP_DAYS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise Invalid("Send an Idempotency-Key header with every write.",
                      code="idempotency_key_required",
                      errors=[{"field": "Idempotency-Key", "message": "required"}])
    key = key.strip()
    if len(key) > KEY_PATTERN_MAX or not key.isascii() or not key.isprintable():
        raise Invalid("The Idempotency-Key must be printable ASCII of at most 255 characters.",
                      code="invalid_idempotency_key",
                      errors=[{"field": "Idempotency-Key", "message": "malformed"}])
    return key


def _replay(record: IdempotencyRecord, fingerprint: str) -> Answer:
    if record.request_hash != fingerprint:
        raise Conflict("This Idempotency-Key was used with a different request.",
                       code="idempotency_key_reused")
    return Answer(record.status_code, record.response, replayed=True)


def _find(session: Session, merchant_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.merchant_id == merchant_id, IdempotencyRecord.key == key))


def run_once(
    session: Session, *, merchant_id: int, key: str, fingerprint: str,
    work: Callable[[], Answer],
) -> Answer:
    """Run ``work`` (which must not commit) once per key; commit its writes with the key."""
    existing = _find(session, merchant_id, key)
    if existing is not None:
        return _replay(existing, fingerprint)
    record = IdempotencyRecord(merchant_id=merchant_id, key=key, request_hash=fingerprint,
                               created_at=utcnow())
    session.add(record)
    try:
        session.flush()
        answer = work()
        record.status_code, record.response = answer.status, answer.body
        session.commit()
    except IntegrityError:
        # Another request with this key committed first (the flush waited for it on
        # PostgreSQL): ours is rolled back, theirs is the answer.
        session.rollback()
        existing = _find(session, merchant_id, key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return answer


def purge_old_keys(session: Session, *, days: int = KEEP_DAYS) -> int:
    result = session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < utcnow() - timedelta(days=days)))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
