"""Reading .pkpass packages the way a device does."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any


def pass_json(package: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        value: dict[str, Any] = json.loads(archive.read("pass.json"))
    return value


def installed_pass(client: Any, card: dict[str, Any]) -> dict[str, Any]:
    """What the device knows after adding ``card``'s pass: its identifiers and token."""
    response = client.get(card["apple_pass_url"].removeprefix("https://cards.example.test"))
    assert response.status_code == 200
    body = pass_json(response.data)
    return {"type": body["passTypeIdentifier"], "serial": body["serialNumber"],
            "token": body["authenticationToken"], "card": card}


_STRINGS_LINE = re.compile(r'"((?:[^"\\]|\\.)*)" = "((?:[^"\\]|\\.)*)";')
_STRINGS_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda match: _STRINGS_ESCAPES.get(match.group(1),
                                                                match.group(0)), text)


def pass_strings(package: bytes, locale: str) -> dict[str, str]:
    """``<locale>.lproj/pass.strings`` of a package, as Wallet reads it (UTF-16, a BOM)."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        data = archive.read(f"{locale}.lproj/pass.strings")
    assert data[:2] == b"\xff\xfe"
    text = data[2:].decode("utf-16-le")
    return {_unescape(key): _unescape(value) for key, value in _STRINGS_LINE.findall(text)}


def pass_field(document: dict[str, Any], key: str) -> dict[str, Any]:
    """The field with ``key``, front or back (which group depends on what else the pass
    shows)."""
    return next(field for group in document["storeCard"].values() for field in group
                if field["key"] == key)
