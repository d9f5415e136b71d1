"""Where an enrolment came from: the counter's location and a campaign tag.

A join link may name a location of its program (``?location=7``) and a campaign tag
(``?src=flyer-may``); the card keeps both (``cards.location_id``, ``cards.source``) so
that a merchant sees which counter or flyer brings customers.

Invariant: a stored tag is 1 to ``SOURCE_MAX_LENGTH`` characters of ``a-z``, ``0-9``,
``_`` and ``-``, exactly as the link carried it. The join page drops any other value (the
customer still joins, unattributed); the merchant's API refuses it (422), so that no
printed code carries a tag that would be dropped.

The join form also records where it was sent from (``cards.enrolled_from``), so that many
cards joined from one place in a short time can be noticed (a fraud pattern:
``app.ledger.fraud_patterns``). What is kept is ``enrolment_origin``: a keyed digest of the
client's address (an IPv6 address by its /64 network, what one device holds), which
matches the same address again and tells nothing of it to anyone without the key.
After a key rotation the same address makes another digest; while the previous keys are
listed, ``enrolment_origins`` gives the digest under each of them, and the join keeps the
one a card of the program was enrolled from lately (``app.cards.rotation.kept_origin``), so
that a burst across the switch is still one origin.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence

SOURCE_MAX_LENGTH = 32
SOURCE_PATTERN = re.compile(f"[a-z0-9_-]{{1,{SOURCE_MAX_LENGTH}}}")
SOURCE_RULE = f"1 to {SOURCE_MAX_LENGTH} characters of a-z, 0-9, _ and -"
ORIGIN_LENGTH = 32  # hex digits of the digest: 128 bits
IPV6_DEVICE_PREFIX = 64


def campaign_source(text: str | None) -> str | None:
    """The campaign tag ``text`` is, or None when it is none (absent, or any other text)."""
    if text is None or SOURCE_PATTERN.fullmatch(text) is None:
        return None
    return text


def enrolment_origin(address: str | None, secret: bytes) -> str | None:
    """The digest ``cards.enrolled_from`` keeps of the client's ``address`` (None when
    there is no address, or it is none: a test client's, a socket's)."""
    origins = enrolment_origins(address, (secret,))
    return origins[0] if origins else None


def enrolment_origins(address: str | None, keys: Sequence[bytes]) -> tuple[str, ...]:
    """The digest of the client's ``address`` under each of ``keys``, in their order
    (the current secret key first); none when there is no address, or it is none."""
    text = _device_address(address)
    if text is None:
        return ()
    return tuple(hmac.new(key, b"enrolment-origin:" + text.encode(),
                          hashlib.sha256).hexdigest()[:ORIGIN_LENGTH] for key in keys)


def _device_address(address: str | None) -> str | None:
    """What one device holds of ``address``: an IPv4 address, an IPv6 /64 network."""
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        network = ipaddress.ip_network(f"{parsed}/{IPV6_DEVICE_PREFIX}", strict=False)
        return f"{network.network_address}/{IPV6_DEVICE_PREFIX}"
    return str(parsed.ipv4_mapped or parsed) if parsed.version == 6 else str(parsed)
