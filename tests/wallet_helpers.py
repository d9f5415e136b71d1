"""Reading .pkpass packages the way a device does."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any


def pass_json(package: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        value: dict[str, Any] = json.loads(archive.read("pass.json"))
    return value


def pass_field(document: dict[str, Any], key: str) -> dict[str, Any]:
    """The field with ``key``, front or back (which group depends on what else the pass
    shows)."""
    return next(field for group in document["storeCard"].values() for field in group
                if field["key"] == key)
