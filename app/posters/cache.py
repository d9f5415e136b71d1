"""Rendered posters kept in memory, so that printing the same poster again costs no
drawing (one costs 0.1 to 0.3 s of CPU).

A poster is a pure function of what it shows (``Poster``: texts, colours, the link in
its code, the logo's bytes) and its paper, so that is its key: a change of the
program's texts, colours, logo or rules, another location, size, language or campaign
tag is another key, and an entry is never stale. The key is also the poster's ETag.

Invariants: the cache belongs to one app (``app.web.posters.init_app`` keeps it in the
app's extensions; nothing here is module state); it holds at most ``max_entries``
posters and ``max_bytes`` of them, dropping the least recently used first; it is safe
to use from the threads of one process. Two requests that miss at once both draw; the
second one's poster replaces the first's identical one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from app.posters.content import Poster
from app.posters.pdf import Paper, render_poster

MAX_ENTRIES = 64
MAX_BYTES = 32 * 1024 * 1024


def poster_key(poster: Poster, paper: Paper) -> str:
    """A digest of everything that makes the poster what it is (hex, 64 characters)."""
    shown = dataclasses.asdict(poster)
    logo = shown.pop("logo")
    shown["logo"] = hashlib.sha256(logo).hexdigest() if logo is not None else None
    shown["paper"] = paper.value
    canonical = json.dumps(shown, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RenderedPoster:
    key: str
    pdf: bytes


class PosterCache:
    """The least recently used posters of one app, by ``poster_key``; ``hits`` and
    ``misses`` count how requests were served."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def poster(self, poster: Poster, paper: Paper, key: str | None = None) -> RenderedPoster:
        """The poster drawn, from the cache when it holds it (``key``: its
        ``poster_key``, when the caller has it already)."""
        key = key or poster_key(poster, paper)
        with self._lock:
            pdf = self._entries.get(key)
            if pdf is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return RenderedPoster(key, pdf)
            self.misses += 1
        pdf = render_poster(poster, paper)  # outside the lock: others are served meanwhile
        self._keep(key, pdf)
        return RenderedPoster(key, pdf)

    def _keep(self, key: str, pdf: bytes) -> None:
        if len(pdf) > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            self._size -= len(previous) if previous is not None else 0
            self._entries[key] = pdf
            self._size += len(pdf)
            while len(self._entries) > self.max_entries or self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
