"""Stage one of sending: outbox rows become pending pushes on each registration.

A card's row reaches its devices and its Google object (and, when it names an offer, an
automatic offer's send, a Google message announces it); a program's row reaches every card
of the program (its creation, a design change) or, when it names an offer, the cards that
offer was published to (and, but for an offer that ended, Google announces the offer to
each in a message). A publish, and a design change, leave the bump of the passes to the
fan-out (``BUMP`` in the row), which does it in the transaction that marks their devices
pending. Google hears of
any of these changes only on the objects someone holds in Google Wallet (saved, not
removed): ``app.delivery.google.queue`` says why and what an object saved later gets.

A batch of outbox rows is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers share the work; SQLite's BEGIN IMMEDIATE serializes them), every registration
of the changed cards is marked pending with its generation bumped (so any number of
changes to one pass merge into one push per device), and the rows are marked done, in
one transaction: a crash before the commit leaves the rows for the next worker.

An offer's cards, and those of a program with a new design (its row's ``BUMP``: the
request that saved the design bumps no pass), are fanned out ``FANOUT_CARDS`` at a time,
in card order, one transaction each: bumping a card's pass locks the card's row until
the commit, and a purchase on that card waits for it, so an offer to a million cards
fanned out at once would hold every till of the chain for as long as the whole fan-out
takes (a minute).
The row keeps where it got to (``fanned_through``, the last card done) and stays
pending until its last chunk; a crash between chunks resumes after the last committed
one, and no card's pass is bumped twice for one offer.

A row fanned out is kept ``DONE_KEPT`` (to look back at a recent incident), then deleted by
the housekeeping (``purge_done``): nothing reads it after its fan-out (the backlog gauges,
an offer's reach and every channel read only pending and failed rows; results and stats
read the cards, offers and ledger), and every purchase writes one, so they would otherwise
be most of the database after a year.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from app.bulk import among
from app.cards.models import Card
from app.clock import utcnow
from app.delivery.google import queue as google_queue
from app.devices.models import Registration
from app.google_wallet.account import GoogleAccount
from app.offers.models import CardOffer
from app.offers.service import bump_passes
from app.outbox.messages import BUMP, REASON_OFFER_ENDED
from app.outbox.models import OutboxMessage

FANOUT_LOCK = 0x4C4F59  # an advisory lock id: one fan-out at a time on PostgreSQL
FANOUT_CARDS = 5_000  # an offer's cards fanned out per transaction (see above)
DONE_KEPT = timedelta(days=7)
PURGE_BATCH = 10_000  # rows one statement deletes: short transactions, however many are due


def drain_outbox(session: Session, *, limit: int = 500,
                 google: GoogleAccount | None = None, cards: int = FANOUT_CARDS) -> int:
    """Turn up to ``limit`` outbox rows into pending pushes (and, with ``google``,
    pending Google objects, classes and messages), with up to ``cards`` cards of the
    offers and redrawn programs they name; returns how many rows it took up, done or
    (an offer's, a redrawn program's) carried on."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": FANOUT_LOCK}
    ):
        # Another worker is fanning out; two at once could deadlock on shared
        # registrations, and fan-out is quick, so one at a time loses nothing.
        session.rollback()
        return 0
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.card_id, OutboxMessage.program_id,
               OutboxMessage.payload, OutboxMessage.fanned_through)
        .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now)
        .order_by(OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        session.rollback()
        return 0
    offered, redrawn, progress = _chunks(session, rows, cards)
    # Rows taken up now: all but those left for lack of room (the next transaction).
    taken = [row for row in rows if row.id in progress or not _chunked(row)]
    # A published offer's passes, or a redrawn program's, are bumped here, with their
    # devices marked pending below: no device is told before its pass is newer.
    bumped = {_announced(row) for row in taken if (row.payload or {}).get(BUMP)} - {None}
    bump_passes(session, sorted({card_id for card_id, offer_id in offered
                                 if offer_id in bumped} | set(redrawn)), now=now)
    # An automatic offer reaches one card at a time: the card's own row names it.
    offered += [(row.card_id, row.payload["offer_id"]) for row in taken
                if row.card_id is not None and (row.payload or {}).get("offer_id")]
    changed = {row.card_id for row in taken if row.card_id is not None}
    card_ids = sorted(changed | {card_id for card_id, _ in offered} | set(redrawn))
    # Every card of a program at once (its creation): none of them has a pass to bump.
    program_ids = sorted({row.program_id for row in taken if row.program_id is not None
                          and not _chunked(row)})
    # A redrawn program's Google class, with its first chunk.
    redrawn_programs = sorted({row.program_id for row in taken if _chunked(row)
                               and _announced(row) is None and row.fanned_through is None})
    pending = {"push_status": "pending", "push_generation": Registration.push_generation + 1,
               "push_attempts": 0, "push_available_at": now}
    if card_ids:
        session.execute(update(Registration).where(among(session, Registration.card_id, card_ids))
                        .values(**pending).execution_options(synchronize_session=False))
    if program_ids:
        cards_of_programs = select(Card.id).where(Card.program_id.in_(program_ids))
        session.execute(update(Registration)
                        .where(Registration.card_id.in_(cards_of_programs))
                        .values(**pending).execution_options(synchronize_session=False))
    if google is not None:
        google_queue.mark_cards(session, google, sorted(changed), now)
        google_queue.bump_objects(
            session, sorted({card_id for card_id, _ in offered} - changed), now)
        # The objects it patches wait for their class: known to Google, or made so.
        google_queue.ensure_classes(session, google, {
            row.program_id for row in taken if row.card_id is None
            and row.program_id is not None and (row.payload or {}).get("offer_id")}, now)
        google_queue.mark_programs(session, google, program_ids + redrawn_programs, now)
        google_queue.queue_tier_messages(session, [
            (row.card_id, row.payload["tier_to"]) for row in taken
            if row.card_id is not None and (row.payload or {}).get("tier_up")], now)
        ended = {row.payload["offer_id"] for row in taken if row.card_id is None
                 and (row.payload or {}).get("reason") == REASON_OFFER_ENDED}
        google_queue.queue_offer_messages(
            session, [(card_id, offer_id) for card_id, offer_id in offered
                      if offer_id not in ended], now)
    session.execute(update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in taken
                                                 if progress.get(row.id) is None]))
                    .values(status="done", sent_at=now)
                    .execution_options(synchronize_session=False))
    for row_id, through in progress.items():
        if through is not None:  # more of its cards: the next transaction goes on
            # Due again from now: how long it waited (in /metrics) counts from its last
            # chunk, not from the publish, while the offer's pushes go out.
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                            .values(fanned_through=through, available_at=now)
                            .execution_options(synchronize_session=False))
    session.commit()
    return len(taken)


def _announced(row: Any) -> int | None:
    """The offer an outbox row announces to the cards it was published to (a program's
    row naming an offer), or None."""
    offer_id = (row.payload or {}).get("offer_id") if row.card_id is None else None
    return int(offer_id) if offer_id else None


def _chunked(row: Any) -> bool:
    """Whether a row's cards are fanned out a chunk at a time: an offer's, and a
    program's whose passes the fan-out bumps (a new design: ``BUMP``)."""
    return row.card_id is None and (_announced(row) is not None
                                    or bool((row.payload or {}).get(BUMP)))


def _chunks(session: Session, rows: Sequence[Any], cards: int
            ) -> tuple[list[tuple[int, int]], list[int], dict[int, int | None]]:
    """The next cards (``cards`` at most, in card order) of the rows fanned out a chunk
    at a time: those of the offers they announce, as (card, offer), and those of the
    programs they redraw; and, for each such row taken up, the last card done when more
    are left (None: its last chunk). A row left for lack of room is not in it."""
    offered: list[tuple[int, int]] = []
    redrawn: list[int] = []
    progress: dict[int, int | None] = {}
    for row in rows:
        room = cards - len(offered) - len(redrawn)
        if not _chunked(row) or room <= 0:
            continue
        offer_id = _announced(row)
        after = row.fanned_through or 0
        query = (select(CardOffer.card_id).where(
                    CardOffer.offer_id == offer_id, CardOffer.held_out.is_(False),
                    CardOffer.card_id > after).order_by(CardOffer.card_id)
                 if offer_id is not None else
                 select(Card.id).where(Card.program_id == row.program_id, Card.id > after)
                 .order_by(Card.id))
        chunk = session.scalars(query.limit(room + 1)).all()
        taken = chunk[:room]
        if offer_id is not None:
            offered += [(card_id, offer_id) for card_id in taken]
        else:
            redrawn += taken
        progress[row.id] = taken[-1] if len(chunk) > room else None
    return offered, redrawn, progress


def purge_done(session: Session, *, now: datetime | None = None, kept: timedelta = DONE_KEPT,
               batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` rows fanned out more than ``kept`` ago (found by the
    ``(status, available_at)`` index: a row is due before it is done) and commit; returns
    how many (``batch``: there may be more)."""
    before = (now or utcnow()) - kept
    doomed = (select(OutboxMessage.id)
              .where(OutboxMessage.status == "done", OutboxMessage.available_at < before,
                     OutboxMessage.sent_at < before)
              .limit(batch).scalar_subquery())
    deleted = session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(doomed))
                              .execution_options(synchronize_session=False))
    session.commit()
    return int(getattr(deleted, "rowcount", 0) or 0)
