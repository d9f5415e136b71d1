"""The worker processes alive now (``workers``): each beats its row every second or so
(``app.delivery.presence``), and every lease a worker takes names its row. A row whose
beat is older than ``presence.STALE`` is a dead worker's: the next worker to notice
deletes it and frees its leases (``leased_by``) at once, instead of waiting for them to
run out. Sits below the layers, like every package's models: it imports nothing but the
database's base."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base


class WorkerProcess(Base):
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
