"""Files that hold secrets, and the folders around them, kept to the service's own user.

Invariants: a folder Loyalpass creates for its data is 0700; a file it creates for a
secret (the development secret key, the demo API key, a development pass key) or for the
SQLite database is 0600 from the moment it exists (created with that mode, never chmod-ed
after being written); files that already exist keep the mode their owner gave them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> None:
    """Create ``path`` (and missing parents) if absent, the folder itself owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_FOLDER)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable and writable by the owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), PRIVATE_FILE)  # a file that was there kept its old mode
        file.write(data)


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only unless it exists (SQLite then opens it and
    gives its -wal and -shm files the same mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def readable_by_others(path: Path) -> int | None:
    """The permission bits of ``path`` when group or others may read or write it; None
    when it is the owner's alone or does not exist."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & (stat.S_IRWXG | stat.S_IRWXO) else None
