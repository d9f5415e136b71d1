"""After a secret key rotation: the passes handed out before it are re-signed with the new
key and pushed, at the operator's pace, and what is stored keyed by the old key still
matches.

A pass is built when a phone fetches it, always with the current key; a phone keeps the
pass it has until it is told to fetch it again. So a pass whose last change came before
the current key was in use on every process may carry an older key: re-signing it is
bumping it (a new version and Last-Modified) and queueing its push, exactly as any change
does, after which the phone fetches a pass signed with the current key.

Invariants:

- The current key's row (``SigningKey``) says since when it is current; every process is
  given ``ROLLOUT_GRACE`` more to restart with it, so a pass changed by a process still
  on the old key is re-signed too. The first row ever written, with no previous key
  configured, is current from the beginning (an upgrade: every pass carries that key).
- A pass needs re-signing while its card is not deleted and its last change came before
  ``rotation_start``; bumping it moves that change past it, so a card is re-signed once,
  however often a round runs (nothing twice), and a card changed since (a purchase) is
  left alone: its push is on its way already.
- Rounds take the key's row lock (``FOR UPDATE``; SQLite's write lock), so any number of
  workers, and ``loyalpass keys rotate``, share one pace and one position; a round that
  fails changes nothing. The pace is ``per_minute`` passes, on the row's clock
  (``resign_next_at``), which never falls more than ``CATCH_UP`` behind: no burst after
  a pause.
- A join keeps the origin digest (``cards.enrolled_from``) a previous key made when a card
  of the program was enrolled from it within ``ORIGIN_BRIDGE``, so a burst across the
  switch is counted as one (``kept_origin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from app.bulk import insert_if_absent, insert_rows
from app.cards.models import Card, CardStatus, SigningKey, next_pass_stamps
from app.merchants.fraud_thresholds import MINUTES_IN_A_WEEK
from app.outbox.messages import TOPIC_PASS_UPDATED, pass_update_payload, wake_after_commit
from app.outbox.models import OutboxMessage
from app.secret_keys import SecretKeys

ROLLOUT_GRACE = timedelta(minutes=10)  # for every process to restart with a new key
CATCH_UP = timedelta(seconds=10)  # how far the pace's clock may fall behind
BATCH = 200  # passes re-signed in one round at most
REASON = "key_rotated"  # the outbox rows' reason
# Before any pass: the first key ever recorded, with no previous one, signed them all.
BEGINNING = datetime(2000, 1, 1)
# The longest window the enrolment-burst pattern counts in (``enrolment_window_minutes``).
ORIGIN_BRIDGE = timedelta(minutes=MINUTES_IN_A_WEEK)

CARDS = cast(Table, Card.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
KEYS = cast(Table, SigningKey.__table__)


@dataclass(frozen=True)
class Round:
    """What one round did: passes re-signed, and how long until the next may do more
    (None: nothing to wait for; the rotation is over, or paused at a pace of 0)."""

    resigned: int
    wait: timedelta | None
    finished: bool = False


@dataclass(frozen=True)
class Progress:
    """Where the re-signing stands: passes that may still carry an older key."""

    key_id: str
    previous_ids: tuple[str, ...]
    current_since: datetime | None  # None: no worker has seen the key yet
    starts_at: datetime  # passes last changed before this are re-signed
    remaining: int
    finished_at: datetime | None


def rotation_start(row: SigningKey) -> datetime:
    """Passes last changed before this may carry an older key than the row's."""
    if row.current_since == BEGINNING:
        return BEGINNING
    return row.current_since + ROLLOUT_GRACE


def note_current_key(session: Session, *, keys: SecretKeys, now: datetime) -> SigningKey:
    """The current key's row, locked for the caller's transaction: written when no process
    has noted the key yet, and started again when another key was noted after it (a
    process still running with the other key, or a key current before coming back)."""
    key_id = keys.current_id
    latest = session.scalar(select(SigningKey.key_id).order_by(
        SigningKey.current_since.desc(), SigningKey.key_id).limit(1))
    row = _locked(session, key_id)
    if row is None:
        since = BEGINNING if latest is None and not keys.previous else now
        insert_if_absent(session, KEYS, {"key_id": key_id, "current_since": since,
                                         "resign_after_card_id": 0}, ["key_id"])
        row = _locked(session, key_id)
        assert row is not None  # written now, by this round or a racing one
    elif latest != key_id and row.current_since < now:
        row.current_since, row.resign_after_card_id = now, 0
        row.resign_next_at = row.resigned_at = None
    return row


def _locked(session: Session, key_id: str) -> SigningKey | None:
    return session.scalar(select(SigningKey).where(SigningKey.key_id == key_id)
                          .with_for_update().execution_options(populate_existing=True))


def resign_round(session: Session, *, keys: SecretKeys, per_minute: int, now: datetime,
                 batch: int = BATCH) -> Round:
    """Re-sign and queue the push of as many passes as the pace allows at ``now`` (at
    most ``batch``), and commit."""
    row = note_current_key(session, keys=keys, now=now)
    outcome = _advance(session, row, per_minute=per_minute, now=now, batch=batch)
    session.commit()
    return outcome


def _advance(session: Session, row: SigningKey, *, per_minute: int, now: datetime,
             batch: int) -> Round:
    start = rotation_start(row)
    if row.resigned_at is not None or start == BEGINNING:
        return Round(0, None, finished=True)
    if now < start:
        return Round(0, start - now)
    if per_minute <= 0:
        return Round(0, None)
    interval = timedelta(minutes=1) / per_minute
    clock = max(row.resign_next_at or now, now - CATCH_UP)
    if clock > now:
        return Round(0, clock - now)
    due = min(batch, int((now - clock) / interval) + 1)
    resigned = _resign(session, after=row.resign_after_card_id, before=start, limit=due,
                       now=now)
    if resigned:
        row.resign_after_card_id = resigned[-1]
        row.resign_next_at = clock + interval * len(resigned)
        return Round(len(resigned), max(row.resign_next_at - now, timedelta(0)))
    if row.resign_after_card_id and remaining(session, before=start):
        row.resign_after_card_id = 0  # one committed late, behind the sweep: once more
        return Round(0, timedelta(0))
    row.resigned_at = now
    return Round(0, None, finished=True)


def _needs_resigning(before: datetime) -> list[ColumnElement[bool]]:
    return [Card.status != CardStatus.DELETED.value, Card.pass_updated_at < before]


def remaining(session: Session, *, before: datetime) -> int:
    """Cards whose pass may still carry an older key than the one current ``before``."""
    return int(session.scalar(select(func.count()).select_from(Card).where(
        *_needs_resigning(before))) or 0)


def _resign(session: Session, *, after: int, before: datetime, limit: int,
            now: datetime) -> list[int]:
    """Bump the passes of up to ``limit`` cards past ``after`` that need re-signing and
    queue their pushes; their ids, in order. A card a purchase holds is waited for, and
    left out when the purchase moved it past ``before``."""
    rows = session.execute(
        select(Card.id, Card.merchant_id, Card.pass_version, Card.pass_updated_at,
               Card.pass_last_modified)
        .where(Card.id > after, *_needs_resigning(before))
        .order_by(Card.id).limit(limit).with_for_update()).all()
    if not rows:
        return []
    bumps, pushes = [], []
    for row in rows:
        version, tag, last_modified = next_pass_stamps(
            row.pass_version, row.pass_updated_at, row.pass_last_modified, now)
        bumps.append({"card": row.id, "pass_version": version, "pass_updated_at": tag,
                      "pass_last_modified": last_modified})
        pushes.append({"merchant_id": row.merchant_id, "card_id": row.id, "program_id": None,
                       "topic": TOPIC_PASS_UPDATED,
                       "payload": pass_update_payload(pass_version=version, reason=REASON),
                       "status": "pending", "attempts": 0, "available_at": now,
                       "created_at": now})
    session.execute(update(CARDS).where(CARDS.c.id == bindparam("card"))
                    .execution_options(synchronize_session=False), bumps)
    insert_rows(session, OUTBOX, pushes)
    wake_after_commit(session)
    return [row.id for row in rows]


def progress(session: Session, *, keys: SecretKeys, now: datetime) -> Progress:
    """Where the re-signing for the current key stands (reads only; the transaction is
    ended)."""
    try:
        row = session.get(SigningKey, keys.current_id)
        any_row = session.scalar(select(SigningKey.key_id).limit(1))
        if row is not None:
            since: datetime | None = row.current_since
            start = rotation_start(row)
        else:  # as the first round will write it
            since = None
            start = BEGINNING if any_row is None and not keys.previous else (
                now + ROLLOUT_GRACE)
        finished = row.resigned_at if row is not None else None
        left = 0 if start == BEGINNING or finished else remaining(session, before=start)
        return Progress(key_id=keys.current_id, previous_ids=keys.previous_ids,
                        current_since=since, starts_at=start, remaining=left,
                        finished_at=finished)
    finally:
        session.rollback()


def kept_origin(session: Session, *, program_id: int, origins: Sequence[str],
                now: datetime) -> str | None:
    """The digest a new card of the program keeps of where its join form came from:
    ``origins`` are the address's digests under each key, the current one first; a
    previous key's is kept when a card of the program was enrolled from it lately."""
    if len(origins) < 2:
        return origins[0] if origins else None
    earlier = session.scalar(
        select(Card.enrolled_from)
        .where(Card.program_id == program_id, Card.enrolled_from.in_(origins[1:]),
               Card.created_at >= now - ORIGIN_BRIDGE)
        .order_by(Card.created_at.desc()).limit(1))
    return earlier or origins[0]
