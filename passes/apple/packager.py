"""The pass packager: prepared designs kept in LRU caches, so a design's artwork, strings
and hashes are made once (:mod:`passes.apple.package` does the making and the per-card
build).

Invariant: a cached entry is reused only for an equal design, and each is prepared at
most once at a time per key, however many threads ask.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from passes.apple.identity import SigningIdentity
from passes.apple.images import strip_variant
from passes.apple.model import PassCard, PassDesign
from passes.apple.package import (
    CardTail,
    DesignParts,
    PreparedDesign,
    build_package,
    card_tail,
    join_package,
    prepare_design,
    prepare_parts,
    tail_with_certificates,
    tail_without_certificates,
)
from passes.apple.signing import certificates_of


class PassPackager:
    """Builds packages with one identity, keeping prepared designs in LRU caches.

    Thread-safe. A design's shared parts and each of its strips are prepared at most
    once at a time per key, however many threads ask for them; a cached entry is reused
    only for an equal design, so a design changed without a new ``design_key`` is
    re-prepared, not served stale. A stamp card's strip depends on its stamps, so a
    stamps design has one prepared entry per number of stamps a card shows (prepared
    when first asked for), each counted against ``max_designs``.
    """

    def __init__(self, identity: SigningIdentity, *, max_designs: int = 256) -> None:
        if max_designs < 1:
            raise ValueError("max_designs must be at least 1")
        self.identity = identity
        self.max_designs = max_designs
        self._parts: _Cache[str, DesignParts] = _Cache(max_designs)
        self._prepared: _Cache[tuple[str, int | None], PreparedDesign] = _Cache(max_designs)
        self._certificates: bytes | None = None  # what its signatures carry: certificates_of

    def prepared(self, design: PassDesign, *, stamps: int = 0) -> PreparedDesign:
        """The prepared form of ``design`` for a card with ``stamps``, from the cache when
        it is there."""
        key = (design.design_key, strip_variant(design, stamps))
        return self._prepared.get(key, design, lambda: prepare_design(
            design, stamps=stamps, parts=self._parts.get(
                design.design_key, design, lambda: prepare_parts(design))))

    def package(self, card: PassCard, design: PassDesign) -> bytes:
        """The signed .pkpass bytes of ``card`` in ``design``."""
        return build_package(card, self.prepared(design, stamps=card.stamps), self.identity)

    def tail(self, card: PassCard, design: PassDesign) -> CardTail:
        """``card``'s own signed part of its package in ``design``, to keep: its signature
        without the certificates every signature of this identity carries (``join``)."""
        tail, certificates = tail_without_certificates(
            card_tail(card, self.prepared(design, stamps=card.stamps), self.identity))
        if certificates != self.certificates:  # never: one identity, one builder
            raise ValueError("the signature carries other certificates than the identity's")
        return tail

    def join(self, tail: CardTail, design: PassDesign, *, stamps: int) -> bytes:
        """The package of a card with ``stamps`` whose kept signed part is ``tail``
        (``tail``), the certificates put back; ValueError when ``tail`` was made for
        other design files than ``design``'s now."""
        return join_package(self.prepared(design, stamps=stamps),
                            tail_with_certificates(tail, self.certificates))

    @property
    def certificates(self) -> bytes:
        """The certificates field of this identity's signatures (made once; two threads
        making it at once make the same bytes)."""
        if self._certificates is None:
            self._certificates = certificates_of(self.identity)
        return self._certificates


class _Prepares(Protocol):
    @property
    def design(self) -> PassDesign: ...


_Key = TypeVar("_Key", str, tuple[str, int | None])
_Value = TypeVar("_Value", bound=_Prepares)


class _Cache(Generic[_Key, _Value]):
    """An LRU of values prepared from a design, each made once at a time per key."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[_Key, _Value] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[_Key, threading.Lock] = {}

    def get(self, key: _Key, design: PassDesign, make: Callable[[], _Value]) -> _Value:
        cached = self._lookup(key, design)
        if cached is not None:
            return cached
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                # Another thread may have prepared it while this one waited.
                cached = self._lookup(key, design)
                if cached is None:
                    cached = make()
                    self._store(key, cached)
        finally:
            with self._lock:
                if self._key_locks.get(key) is key_lock:
                    del self._key_locks[key]
        return cached

    def _lookup(self, key: _Key, design: PassDesign) -> _Value | None:
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or (cached.design is not design and cached.design != design):
                return None
            self._entries.move_to_end(key)
            return cached

    def _store(self, key: _Key, value: _Value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
