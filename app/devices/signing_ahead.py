"""Passes signed ahead of their download.

After an offer reaches 100,000 phones each of them fetches its pass within minutes of its
push, and signing is most of what a download costs. So the worker signs a card's pass as
its push leaves (``app.delivery.pushes.dispatch``) and keeps the card's own signed part of
the package (``app.devices.models.SignedPass``: about 2.8 KB, its signature without the
certificates every signature carries); the download then joins it to
its design's files (``app.wallet.service.Wallet.join``) instead of reading what the pass
shows and signing it. Several devices of one card share one signature.

Invariants:

- A kept part is served only while it is the pass a download would sign now: made at the
  card's current ``pass_last_modified`` (every change to what a pass shows moves it, as
  the 304 already relies on), with what signs passes now (``Wallet.made_with``: the
  certificates, the links and the barcode key), after the design's files drawn now, and
  before ``good_until``: the first moment the clock alone changes what it shows (a shown
  offer ending, a purchase leaving the tier's 12 months) or ``KEPT``, whichever is first.
  Anything else reads the pass and signs it in the request, as before.
- Signing ahead writes only ``signed_passes``, in the caller's transaction; a part made
  from an older version never replaces one of a newer (two workers may sign one card).
- It is only ahead of time: losing a kept part, or failing to make one, costs a signature
  in the request and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from app.clock import utcnow
from app.devices.service import card_program
from app.devices.wallet_reads import passes_to_sign
from app.sql import SQL, Raw
from app.wallet.service import Wallet

KEPT = timedelta(days=1)  # the longest a signed part is served (housekeeping deletes it)

KEEP = SQL(
    "INSERT INTO signed_passes (card_id, pass_last_modified, made_with, design_version,"
    " stamps, design_digest, good_until, entries, directory, signed_at) VALUES (:card_id,"
    " :pass_last_modified, :made_with, :design_version, :stamps, :design_digest,"
    " :good_until, :entries, :directory, :signed_at)"
    " ON CONFLICT (card_id) DO UPDATE SET pass_last_modified = excluded.pass_last_modified,"
    " made_with = excluded.made_with, design_version = excluded.design_version,"
    " stamps = excluded.stamps, design_digest = excluded.design_digest,"
    " good_until = excluded.good_until, entries = excluded.entries,"
    " directory = excluded.directory, signed_at = excluded.signed_at"
    " WHERE signed_passes.pass_last_modified <= excluded.pass_last_modified")
FORGET_BATCH = 5000  # kept parts deleted by one statement
FORGET = SQL(f"DELETE FROM signed_passes WHERE card_id IN (SELECT card_id FROM"  # noqa: S608
             f" signed_passes WHERE good_until <= :now LIMIT {FORGET_BATCH})")  # (a constant)


def sign_ahead(session: Session, wallet: Wallet, *, card_ids: Sequence[int],
               now: datetime | None = None) -> int:
    """Sign and keep the passes of ``card_ids`` that have no kept part that is still the
    pass, in the session's transaction (the caller commits); how many were signed."""
    now = now or utcnow()
    raw = Raw.of_session(session)
    kept = []
    for ahead in passes_to_sign(raw, card_ids=card_ids, now=now, made_with=wallet.made_with):
        card = ahead.pass_.card
        tail = wallet.signed_part(card, program=partial(card_program, session, card.program_id),
                                  offers=ahead.pass_.offers, facts=ahead.pass_.facts)
        good_until = now + KEPT
        if ahead.changes_at is not None:
            good_until = min(good_until, ahead.changes_at)
        kept.append({"card_id": ahead.card_id,
                     "pass_last_modified": raw.time(ahead.pass_.last_modified),
                     "made_with": wallet.made_with, "design_version": card.design_version,
                     "stamps": card.stamps, "design_digest": tail.design_digest,
                     "good_until": raw.time(good_until), "entries": tail.entries,
                     "directory": tail.directory, "signed_at": raw.time(now)})
    # In the cards' order: two workers keeping passes of the same cards at once wait for
    # each other instead of deadlocking.
    raw.each(KEEP, sorted(kept, key=lambda row: row["card_id"]))
    return len(kept)


def forget_signed(session: Session, *, now: datetime | None = None) -> int:
    """Delete up to ``FORGET_BATCH`` kept parts past their time (in the session's
    transaction); how many."""
    raw = Raw.of_session(session)
    return int(raw.execute(FORGET, {"now": raw.time(now or utcnow())}).rowcount)
