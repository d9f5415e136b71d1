"""Where an enrolment came from: the counter's location and a campaign tag.

A join link may name a location of its program (``?location=7``) and a campaign tag
(``?src=flyer-may``); the card keeps both (``cards.location_id``, ``cards.source``) so
that a merchant sees which counter or flyer brings customers.

Invariant: a stored tag is 1 to ``SOURCE_MAX_LENGTH`` characters of ``a-z``, ``0-9``,
``_`` and ``-``, exactly as the link carried it. The join page drops any other value (the
customer still joins, unattributed); the merchant's API refuses it (422), so that no
printed code carries a tag that would be dropped.
"""

from __future__ import annotations

import re

SOURCE_MAX_LENGTH = 32
SOURCE_PATTERN = re.compile(f"[a-z0-9_-]{{1,{SOURCE_MAX_LENGTH}}}")
SOURCE_RULE = f"1 to {SOURCE_MAX_LENGTH} characters of a-z, 0-9, _ and -"


def campaign_source(text: str | None) -> str | None:
    """The campaign tag ``text`` is, or None when it is none (absent, or any other text)."""
    if text is None or SOURCE_PATTERN.fullmatch(text) is None:
        return None
    return text
