"""The wallet's frequent requests to Apple's web service, each one hand-written statement
(``app.sql``): the device's poll (``POLL``) and its pass, whole or a 304 (``PASS_HEAD``,
``PASS``), and the passes the worker signs ahead of their download (``AHEAD``).

After an offer reaches 100,000 phones every one of them polls and fetches its pass within
a minute, so these run as the counter's purchase does: on PostgreSQL on the thread's own
held connection, each statement a transaction of its own (no BEGIN or ROLLBACK round
trips), and prepared there once (psycopg prepares a statement at its fifth run and keeps
it while the connection lives; a pooled connection's are dropped by the ROLLBACK of every
checkin, so the ORM's were parsed and planned on every request), without the ORM's work
per statement, and reading nothing the answer does not show: not the program's images
nor its texts (its pass design is drawn once per design version, ``app.wallet.service``).

A device that has the pass asks with its ``If-Modified-Since``: ``PASS_HEAD`` reads the
card's token and when its pass last changed, all that a 304 needs (measured: a third of
the cost of the full statement, whose subqueries are set up even when they read
nothing), and for a pass newer than that its part signed ahead, when one is kept
(``app.devices.signing_ahead``): all a download after a push needs. Without one, or for a
pass asked for without ``If-Modified-Since``, ``PASS`` reads the card by its serial number
with its part signed ahead or else what the pass shows: its holder's name and language
and its program's design version and languages, the card's last movements
(``app.wallet.facts``), its 12-month spend when the program has tiers, and the titles of
the offers its pass shows (``app.offers.service.current_offers``' rule). The caller
compares the token, in constant time, before it judges anything else.

Rows are read by column name (``app.rows``); the movements and offers come as JSON
arrays (PostgreSQL's ``json_agg``, SQLite's ``json_group_array``), put in order here.
"""
# ruff: noqa: S608 (the statements are put together from the constants here only)

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import rows
from app.clock import from_microseconds, to_microseconds
from app.offers.models import SHOWN_OFFERS
from app.points.postings import TIER_WINDOW
from app.sql import SQL, Raw
from app.texts import in_every_locale
from app.wallet.apple_shapes import CardPass
from app.wallet.facts import HISTORY_LENGTH, CardFacts, Movement
from passes.apple import CardTail

# Before every tag and every Last-Modified: "list everything", "send the pass".
EVER = datetime(1, 1, 1)


@dataclass(frozen=True)
class UpdatedPasses:
    serial_numbers: list[str]
    last_updated: str


POLL = SQL(
    "SELECT cards.serial_number, cards.pass_updated_at FROM devices"
    " JOIN registrations ON registrations.device_id = devices.id"
    " JOIN cards ON cards.id = registrations.card_id"
    " WHERE devices.device_library_identifier = :device AND cards.pass_updated_at > :since"
    " ORDER BY cards.pass_updated_at")


def updated_passes(raw: Raw, *, device_library_identifier: str, since: int | None
                   ) -> UpdatedPasses | None:
    """The serials of the device's passes changed after ``since`` (a tag, in microseconds;
    None: every pass), or None when there are none."""
    found = raw.all_without_begin(POLL, {
        "device": device_library_identifier,
        "since": raw.time(EVER if since is None else from_microseconds(since))})
    if not found:
        return None
    newest = max(to_microseconds(raw.read_time(updated)) for _, updated in found)
    return UpdatedPasses([serial for serial, _ in found], str(newest))


# A pass signed ahead that is still the card's pass, made with what signs passes now.
_SIGNED = ("LEFT JOIN signed_passes AS signed ON signed.card_id = cards.id"
           " AND signed.pass_last_modified = cards.pass_last_modified"
           " AND signed.made_with = :made_with AND signed.good_until > :now")
_KEPT = ("design_version", "stamps", "design_digest", "entries", "directory")


@dataclass(frozen=True)
class KeptPass:
    """A card's pass signed ahead (``app.devices.signing_ahead``): its own signed part,
    and the design files it follows (its program's design version and the card's stamps
    when it was made)."""

    tail: CardTail
    design_version: int
    stamps: int


@dataclass(frozen=True)
class PassHead:
    """All a 304 needs, and the pass signed ahead (``kept``) when the card's pass is newer
    than the device's copy and one is kept."""

    authentication_token: str
    pass_last_modified: datetime
    program_id: int
    kept: KeptPass | None


@dataclass(frozen=True, slots=True)
class HeadRow:
    """``PASS_HEAD``'s row (the signed columns None unless the pass is newer than the
    device's copy and one is kept: then not even sent)."""

    authentication_token: str
    pass_last_modified: datetime
    program_id: int
    signed_design_version: int | None
    signed_stamps: int | None
    signed_design_digest: str | None
    signed_entries: bytes | None
    signed_directory: bytes | None


PASS_HEAD = SQL(
    "SELECT " + ", ".join(
        f"CASE WHEN cards.pass_last_modified > :since THEN signed.{name[len('signed_'):]}"
        f" END AS {name}" if name.startswith("signed_") else f"cards.{name}"
        for name in rows.names(HeadRow))
    + f" FROM cards {_SIGNED} WHERE cards.serial_number = :serial_number")


def pass_head(raw: Raw, *, serial_number: str, since: datetime, now: datetime,
              made_with: str) -> PassHead | None:
    """The pass's token and when it last changed, and its part signed ahead (made with
    ``made_with``) when it changed after ``since`` and one is kept; None for no such
    pass. One statement: measured, a 304 costs about 5 % more of PostgreSQL's time than
    reading the version alone, and a download after a push saves the full statement."""
    found = raw.one_without_begin(PASS_HEAD, {
        "serial_number": serial_number, "since": raw.time(since), "now": raw.time(now),
        "made_with": made_with})
    if found is None:
        return None
    head = rows.read(HeadRow, found)
    return PassHead(head.authentication_token, raw.read_time(head.pass_last_modified),
                    head.program_id,
                    _kept(head.signed_design_version, head.signed_stamps,
                          head.signed_design_digest, head.signed_entries,
                          head.signed_directory))


def _kept(design_version: int | None, stamps: int | None, digest: str | None,
          entries: bytes | None, directory: bytes | None) -> KeptPass | None:
    if (design_version is None or stamps is None or digest is None or entries is None
            or directory is None):
        return None
    return KeptPass(CardTail(digest, bytes(entries), bytes(directory)), design_version, stamps)


@dataclass(frozen=True, slots=True)
class PassRow:
    """``PASS``'s row: the card's columns by their names (``_pass_statement`` says where
    the others come from)."""

    serial_number: str
    authentication_token: str
    number: str
    link_version: int
    holder_name: str
    holder_locale: str
    balance: int
    tier: str | None
    stamps: int
    rewards: int
    status: str
    program_id: int
    design_version: int
    locales: Any  # JSON: SQLite's text (``Raw.read_json``)
    pass_last_modified: datetime
    movements: Any  # JSON [[id, created_at, kind, points, stamps, rewards], ...]
    spend_12_months: int | None
    offers: Any  # JSON [[created_at, id, title, title_texts, ends_at, expires_at], ...]


@dataclass(frozen=True, slots=True)
class ServedRow(PassRow):
    """``PASS``'s row: the card's pass and, when one was signed ahead and is still the pass
    (``app.devices.models.SignedPass``), its signed part; the columns of what it shows
    are then not read (None)."""

    signed_design_version: int | None
    signed_stamps: int | None
    signed_design_digest: str | None
    signed_entries: bytes | None
    signed_directory: bytes | None


@dataclass(frozen=True, slots=True)
class AheadRow(PassRow):
    """``AHEAD``'s row: a card's pass to sign ahead, with what says how long it stays the
    pass by the clock: the oldest purchase its tier's 12 months count (None without
    tiers) and, in ``offers``, when each shown offer ends."""

    id: int
    tier_turns: datetime | None


# Each dialect's JSON aggregate and array, and an offer's title_texts (JSON) as an array's
# item (SQLite's column is text, and its subquery's column no longer JSON).
_JSON = {True: ("json_agg", "json_build_array", "shown.title_texts"),
         False: ("json_group_array", "json_array", "json(shown.title_texts)")}
_TIERED = "CAST(programs.tiers AS text) <> '[]'"  # the ORM writes no tiers as '[]'
_IN_TIER_WINDOW = "purchases.card_id = cards.id AND purchases.created_at > :tier_since"


def _pass_statement(shape: type[PassRow], *, postgres: bool) -> SQL:
    """The statement whose row is ``shape``: ``ServedRow`` by serial number (what it shows
    is read only when no pass signed ahead is found: PostgreSQL and SQLite evaluate a
    subquery in a CASE only when its branch is taken), ``AheadRow`` for the cards
    ``:card_ids`` names (a JSON array) without such a pass."""
    aggregate, array, title_texts = _JSON[postgres]
    served = shape is ServedRow
    unless_signed = "signed.card_id IS NULL AND " if served else ""

    def shown(subquery: str) -> str:  # read only for a pass not signed ahead
        return f"CASE WHEN signed.card_id IS NULL THEN {subquery} END" if served else subquery

    elsewhere = {
        "holder_name": "customers.name", "holder_locale": "customers.locale",
        "design_version": "programs.design_version", "locales": "programs.locales",
        "movements": shown(f"(SELECT {aggregate}({array}(last.id, last.created_at, last.kind,"
                     " last.points, last.stamps, last.rewards)) FROM (SELECT ledger_entries.id,"
                     " ledger_entries.created_at, ledger_entries.kind, ledger_entries.points,"
                     " ledger_entries.stamps, ledger_entries.rewards FROM ledger_entries"
                     " WHERE ledger_entries.card_id = cards.id"
                     f" ORDER BY ledger_entries.id DESC LIMIT {HISTORY_LENGTH}) AS last)"),
        # Summed for a program with tiers only: a card's purchases of a year may be
        # hundreds of rows.
        "spend_12_months": f"CASE WHEN {unless_signed}{_TIERED} THEN (SELECT"
                           " coalesce(sum(purchases.amount_paid - purchases.refunded_paid), 0)"
                           f" FROM purchases WHERE {_IN_TIER_WINDOW}) END",
        "tier_turns": f"CASE WHEN {_TIERED} THEN (SELECT min(purchases.created_at)"
                      f" FROM purchases WHERE {_IN_TIER_WINDOW}) END",
        "offers": shown(f"(SELECT {aggregate}({array}(shown.created_at, shown.id, shown.title,"
                  f" {title_texts}, shown.ends_at, shown.expires_at)) FROM (SELECT"
                  " card_offers.created_at, offers.id, offers.title, offers.title_texts,"
                  " offers.ends_at, card_offers.expires_at FROM card_offers"
                  " JOIN offers ON offers.id = card_offers.offer_id"
                  " WHERE card_offers.card_id = cards.id AND NOT card_offers.held_out"
                  " AND offers.status = 'published'"
                  " AND (offers.ends_at IS NULL OR offers.ends_at > :now)"
                  " AND (card_offers.expires_at IS NULL OR card_offers.expires_at > :now)"
                  " ORDER BY card_offers.created_at DESC, offers.id DESC"
                  f" LIMIT {SHOWN_OFFERS}) AS shown)"),
        **{f"signed_{name}": f"signed.{name}" for name in _KEPT},
    }
    select = ", ".join(f"{elsewhere[name]} AS {name}" if name in elsewhere else "cards." + name
                       for name in rows.names(shape))
    cards = ("cards JOIN customers ON customers.id = cards.customer_id"
             " JOIN programs ON programs.id = cards.program_id")
    if served:
        return SQL(f"SELECT {select} FROM {cards} {_SIGNED}"
                   " WHERE cards.serial_number = :serial_number")
    listed = ("SELECT CAST(listed.value AS integer)"
              " FROM json_array_elements_text(CAST(:card_ids AS json)) AS listed"
              if postgres else "SELECT listed.value FROM json_each(:card_ids) AS listed")
    return SQL(f"SELECT {select} FROM {cards} {_SIGNED} WHERE cards.id IN ({listed})"
               " AND signed.card_id IS NULL")


PASS = {postgres: _pass_statement(ServedRow, postgres=postgres) for postgres in (True, False)}
AHEAD = {postgres: _pass_statement(AheadRow, postgres=postgres) for postgres in (True, False)}


@dataclass(frozen=True)
class PassToServe:
    """A pass as the web service serves it: the card and what its pass shows besides, or
    the card's part of it signed ahead (``signed``: then ``facts`` and ``offers`` are
    empty, as they were not read)."""

    card: CardPass
    authentication_token: str
    last_modified: datetime
    facts: CardFacts
    offers: list[dict[str, str]]  # titles, each {locale: title}
    signed: KeptPass | None = None


def read_pass(raw: Raw, *, serial_number: str, now: datetime, made_with: str
              ) -> PassToServe | None:
    """The pass with that serial number, or None; its part signed ahead when there is one
    still the pass, made with ``made_with`` (``app.wallet.service.Wallet.made_with``; one
    that names nothing signed reads the pass in full)."""
    found = raw.one_without_begin(PASS[raw.postgres], {
        "serial_number": serial_number, "tier_since": raw.time(now - TIER_WINDOW),
        "now": raw.time(now), "made_with": made_with})
    if found is None:
        return None
    row = rows.read(ServedRow, found)
    return _to_serve(raw, row, _kept(row.signed_design_version, row.signed_stamps,
                                     row.signed_design_digest, row.signed_entries,
                                     row.signed_directory))


def _to_serve(raw: Raw, row: PassRow, signed: KeptPass | None) -> PassToServe:
    locales = tuple(raw.read_json(row.locales) or ())
    card = CardPass(
        serial_number=row.serial_number, authentication_token=row.authentication_token,
        number=row.number, link_version=row.link_version, holder_name=row.holder_name,
        holder_locale=row.holder_locale, balance=row.balance, tier=row.tier,
        stamps=row.stamps, rewards=row.rewards, voided=row.status != "active",
        program_id=row.program_id, design_version=row.design_version)
    return PassToServe(card, row.authentication_token, raw.read_time(row.pass_last_modified),
                       _facts(raw.read_json(row.movements) or [], row.spend_12_months),
                       _offers(raw.read_json(row.offers) or [], locales or ("en",)), signed)


@dataclass(frozen=True)
class PassAhead:
    """A card's pass to sign ahead: as it is served, with the card's id, the version it
    was read at (``pass.last_modified``), and the first moment after ``now`` at which
    the clock alone changes what it shows (None: nothing does)."""

    card_id: int
    pass_: PassToServe
    changes_at: datetime | None


def passes_to_sign(raw: Raw, *, card_ids: Sequence[int], now: datetime, made_with: str
                   ) -> list[PassAhead]:
    """The passes of ``card_ids`` that have no part signed ahead that is still the pass,
    made with ``made_with``: read in one statement, in the caller's transaction."""
    found = raw.all_without_begin(AHEAD[raw.postgres], {
        "card_ids": json.dumps(sorted(set(card_ids))), "tier_since": raw.time(now - TIER_WINDOW),
        "now": raw.time(now), "made_with": made_with})
    ahead = []
    for values in found:
        row = rows.read(AheadRow, values)
        ends = [datetime.fromisoformat(moment) for offer in raw.read_json(row.offers) or []
                for moment in offer[4:6] if moment is not None]
        if row.tier_turns is not None:
            ends.append(raw.read_time(row.tier_turns) + TIER_WINDOW)
        ahead.append(PassAhead(row.id, _to_serve(raw, row, None), min(ends, default=None)))
    return ahead


def _facts(movements: Sequence[Sequence[Any]], spend: int | None) -> CardFacts:
    """The movements newest first; the spend as ``app.wallet.facts.card_facts`` gives it
    (None for a program without tiers: nothing is summed)."""
    newest_first = sorted(movements, key=lambda movement: -int(movement[0]))
    return CardFacts(
        movements=tuple(Movement(created_at=datetime.fromisoformat(created_at), kind=kind,
                                 points=points, stamps=stamps, rewards=rewards)
                        for _, created_at, kind, points, stamps, rewards in newest_first),
        spend_12_months=None if spend is None else int(spend))


def _offers(offers: Sequence[Sequence[Any]], locales: tuple[str, ...]
            ) -> list[dict[str, str]]:
    """The titles as ``app.offers.service.shown_offers`` gives them, newest first."""
    newest_first = sorted(offers, key=lambda offer: (datetime.fromisoformat(offer[0]),
                                                     offer[1]), reverse=True)
    return [in_every_locale(texts if texts is not None else title, locales)
            for _, _, title, texts, _, _ in newest_first]

