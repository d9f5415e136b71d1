"""Idempotency keys: a replay returns the first answer, another body under the key is 409.

The record is written in the same transaction as the work it guards (a purchase's in the
same statement: ``app.ledger.purchases``), so either both commit or neither does. Two
requests racing with one key meet at the unique index: the second waits for the first
(PostgreSQL) or runs after it (SQLite's write lock), then finds its record and replays
it. Failed requests leave no record (nothing changed), so a retry after a failure runs
again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import rows
from app.clock import utcnow
from app.errors import Conflict, Invalid
from app.ledger.models import IdempotencyRecord
from app.problem_codes import ProblemCode
from app.sql import SQL, Raw

KEY_PATTERN_MAX = 255
KEEP_DAYS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False
    text: str | None = None  # ``body`` as JSON, when it was written out to be stored


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise Invalid("Send an Idempotency-Key header with every write.",
                      code=ProblemCode.IDEMPOTENCY_KEY_REQUIRED,
                      errors=[{"field": "Idempotency-Key", "message": "required"}])
    key = key.strip()
    if len(key) > KEY_PATTERN_MAX or not key.isascii() or not key.isprintable():
        raise Invalid("The Idempotency-Key must be printable ASCII of at most 255 characters.",
                      code=ProblemCode.INVALID_IDEMPOTENCY_KEY,
                      errors=[{"field": "Idempotency-Key", "message": "malformed"}])
    return key


def replay(request_hash: str, status_code: int, response: dict[str, Any], fingerprint: str
           ) -> Answer:
    """A key's stored answer, for the same request again; another request is a 409."""
    if request_hash != fingerprint:
        raise Conflict("This Idempotency-Key was used with a different request.",
                       code=ProblemCode.IDEMPOTENCY_KEY_REUSED)
    return Answer(status_code, response, replayed=True)


def _find(session: Session, merchant_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.merchant_id == merchant_id, IdempotencyRecord.key == key))


@dataclass(frozen=True)
class _Claimed:
    """What ``_CLAIM`` returns: the new record's id."""

    id: int


# Hand-written (``Raw``): both run on every refund and adjustment, the claim first of all.
_CLAIM = SQL(
    "INSERT INTO idempotency_records (merchant_id, key, request_hash, status_code,"  # noqa: S608
    " response, created_at) VALUES (:merchant_id, :key, :request_hash, 0, '{}', :created_at)"
    " ON CONFLICT (merchant_id, key) DO NOTHING RETURNING " + rows.columns(_Claimed))
_FINISH = SQL("UPDATE idempotency_records SET status_code = :status_code,"
              " response = :response WHERE id = :record_id")


def claim(session: Session, *, merchant_id: int, key: str, fingerprint: str
          ) -> int | Answer:
    """Claim the key for this transaction: the new record's id, or the answer to replay.

    ``INSERT … ON CONFLICT DO NOTHING`` meets a racing request at the unique index: on
    PostgreSQL it waits for the other transaction and yields nothing if that one
    committed (then its record is replayed) or the row if it rolled back; on SQLite the
    write lock has already serialised the two. A replay ends this transaction.
    """
    raw = Raw.of_session(session)
    row = raw.one(_CLAIM, {"merchant_id": merchant_id, "key": key,
                           "request_hash": fingerprint, "created_at": raw.time(utcnow())})
    if row is not None:
        return int(rows.read(_Claimed, row).id)
    existing = _find(session, merchant_id, key)
    session.rollback()
    assert existing is not None  # the conflicting row is committed: we waited for it
    return replay(existing.request_hash, existing.status_code, existing.response, fingerprint)


def finish(session: Session, record_id: int, answer: Answer) -> None:
    """Store the answer with the work; the caller commits both."""
    raw = Raw.of_session(session)
    raw.execute(_FINISH, {"record_id": record_id, "status_code": answer.status,
                          "response": raw.json(answer.body)})


def run_once(
    session: Session, *, merchant_id: int, key: str, fingerprint: str,
    work: Callable[[], Answer],
) -> Answer:
    """Run ``work`` (which must not commit) once per key; commit its writes with the key.

    A failed ``work`` raises and leaves nothing: the caller's session rolls back, key
    included, so a retry runs again.
    """
    claimed = claim(session, merchant_id=merchant_id, key=key, fingerprint=fingerprint)
    if isinstance(claimed, Answer):
        return claimed
    try:
        answer = work()
        finish(session, claimed, answer)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return answer


def purge_old_keys(session: Session, *, days: int = KEEP_DAYS) -> int:
    result = session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < utcnow() - timedelta(days=days)))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
