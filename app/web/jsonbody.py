"""JSON request bodies with their nesting bounded, for the whole app.

Flask's ``request.get_json`` parses with ``current_app.json.loads``, and werkzeug takes a
``ValueError`` from it as a malformed body (``silent=True`` gives None, which every view
answers with 400 ``malformed_body``, or with its 401 when it authenticates first). The
standard library's parser recurses once per level of nesting: 60 KB of brackets end in a
RecursionError, a 500, and so would anything that walks the parsed value afterwards (the
idempotency hash, pydantic). So a body's nesting is measured before it is parsed, without
recursion, in time linear in its length.

Invariant: whatever ``loads`` returns is nested at most ``MAX_NESTING`` levels deep.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_NESTING = 32  # no body of the API goes past 4; a few spare levels for what may come

# What is not a bracket outside strings: whole strings (an unterminated one runs to the
# end, so that no quote inside it is ever taken for the start of another; possessive, so
# that nothing is scanned twice) and runs of other characters.
_NOT_STRUCTURE = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)|[^\[\]{}"]++', re.DOTALL)
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


def nesting_depth(text: str) -> int:
    """How deep ``text``'s arrays and objects nest: at least as deep as any parser
    descends into it before it finds an error (brackets that do not pair up count as
    they open and close)."""
    steps = _NOT_STRUCTURE.sub("", text).encode("ascii").translate(_STEPS)
    return max(0, max(accumulate(memoryview(steps).cast("b")), default=0))


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads`` for untrusted input: ValueError for a text nested too deep."""
    text = data if isinstance(data, str) else data.decode(
        json.detect_encoding(data), "surrogatepass")  # as json.loads decodes bytes
    if nesting_depth(text) > MAX_NESTING:
        raise ValueError(f"JSON nested deeper than {MAX_NESTING} levels")
    return json.loads(text)


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, parsing with ``loads`` above."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # no caller of ours passes options; keep the bound regardless
            raise TypeError("options are not supported")
        return loads(s)
