"""Staff passwords: Argon2id through argon2-cffi.

Invariants: only a hash is stored; a hash made by an older scheme (werkzeug's, from
``loyalpass merchant create --password`` before Argon2) still verifies and is replaced by
an Argon2 hash at the next successful login (``Checked.rehash``), as is an Argon2 hash
made with weaker parameters than today's. Checking a password for an account that does
not exist costs the same as for one that does (``check_absent``), so the time of an
answer does not tell whether an email is known.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 200
ARGON2_PREFIX = "$argon2"


@cache  # one hasher with today's parameters for the life of the process
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _absent_hash() -> str:
    return _hasher().hash("no account has this password")


@dataclass(frozen=True)
class Checked:
    """A password checked against a stored hash."""

    matches: bool
    rehash: str | None = None  # a new hash to store in place of an outdated one


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(stored: str | None, password: str) -> Checked:
    """Whether ``password`` is the one ``stored`` was made from (None: no password set)."""
    if stored is None:
        check_absent(password)
        return Checked(matches=False)
    if not stored.startswith(ARGON2_PREFIX):
        if check_password_hash(stored, password):
            return Checked(matches=True, rehash=hash_password(password))
        return Checked(matches=False)
    try:
        _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Checked(matches=False)
    outdated = _hasher().check_needs_rehash(stored)
    return Checked(matches=True, rehash=hash_password(password) if outdated else None)


def check_absent(password: str) -> None:
    """Spend the time of a check on an account that is not there."""
    with contextlib.suppress(VerificationError):
        _hasher().verify(_absent_hash(), password)


def password_fault(password: str) -> str | None:
    """What is wrong with a new password, as a sentence in English (the pages translate
    their own), or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"A password may have at most {MAX_LENGTH} characters."
    return None
