"""Time in one place: naive UTC datetimes with microseconds, as stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_microseconds(moment: datetime) -> int:
    """A stored naive-UTC datetime as whole microseconds since the epoch (exact)."""
    delta = moment.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_microseconds(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(
        tzinfo=None, microsecond=value % 1_000_000
    )


def iso(moment: datetime | None) -> str | None:
    """A stored naive-UTC datetime as JSON shows it (``…Z``), or None."""
    return moment.isoformat() + "Z" if moment is not None else None
