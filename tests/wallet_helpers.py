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
