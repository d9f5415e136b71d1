"""The "Add to Google Wallet" link: a short signed JWT naming one existing object.

The object (and its class) are created by REST first; the link only names
them. A link that carried the whole object would be several kilobytes, break
in mail and messengers, and still not update an object that already exists.
The JWT is RS256, signed with the service account's key, with its key id in
the header so Google knows which of the account's keys to check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from google.auth import crypt, jwt

from passes.google.model import check_google_id

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"
MAX_SAVE_LINK_LENGTH = 1800  # Google's advice for links that survive every browser

# google-auth ships py.typed but leaves these two unannotated; naming their
# types once here keeps the rest of the module checked by mypy --strict.
_encode_jwt = cast(Callable[..., bytes], jwt.encode)
_rsa_signer_from_info = cast(
    Callable[[Mapping[str, Any]], crypt.RSASigner], crypt.RSASigner.from_service_account_info
)


def signer_from_service_account_info(info: Mapping[str, Any]) -> crypt.RSASigner:
    """An RS256 signer from a parsed service-account key file (``google.json``).

    Raises ValueError when the file is not a service-account key or lacks the
    key, its id or the account's email, so a broken file fails at start-up.
    """
    if info.get("type") != "service_account":
        raise ValueError(
            "the Google key file is not a service account key (type != service_account)"
        )
    for name in ("client_email", "private_key", "private_key_id"):
        if not isinstance(info.get(name), str) or not info[name]:
            raise ValueError(f"the Google service account key file has no {name}")
    try:
        # Parsed here first only to say clearly when the key is not RSA, which
        # google-auth would otherwise accept and fail on at the first signature.
        key = load_pem_private_key(info["private_key"].encode("utf-8"), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the Google service account private_key is unusable: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Google service account private_key is not an RSA key")
    return _rsa_signer_from_info(info)


def save_link(
    *,
    signer: crypt.Signer,
    issuer_email: str,
    object_id: str,
    class_id: str,
    origins: Sequence[str],
    issued_at: int,
) -> str:
    """``https://pay.google.com/gp/v/save/<JWT>`` for one existing loyalty object.

    ``issuer_email`` is the service account's ``client_email``; ``origins``
    are the sites that show the link (reduced to scheme and host); and
    ``issued_at`` is the Unix time of signing, passed in so the caller owns
    the clock. Raises ValueError on a malformed id or a link over
    :data:`MAX_SAVE_LINK_LENGTH` characters.
    """
    claims = save_claims(
        issuer_email=issuer_email,
        object_id=object_id,
        class_id=class_id,
        origins=origins,
        issued_at=issued_at,
    )
    key_id = signer.key_id
    if not isinstance(key_id, str) or not key_id:
        raise ValueError("the signer has no key id (private_key_id); Google could not pick the key")
    token = _encode_jwt(signer, claims, header={"kid": key_id})
    link = SAVE_URL_PREFIX + token.decode("ascii")
    if len(link) > MAX_SAVE_LINK_LENGTH:
        raise ValueError(
            f"the save link is {len(link)} characters, over {MAX_SAVE_LINK_LENGTH}: "
            "it must name the object, not carry it"
        )
    return link


def save_claims(
    *,
    issuer_email: str,
    object_id: str,
    class_id: str,
    origins: Sequence[str],
    issued_at: int,
) -> dict[str, Any]:
    """The JWT claims of a save link: exactly iss, aud, typ, iat, origins and payload."""
    if not isinstance(issuer_email, str) or "@" not in issuer_email:
        raise ValueError(f"issuer_email must be the service account's email, not {issuer_email!r}")
    check_google_id("object_id", object_id)
    check_google_id("class_id", class_id)
    if object_id.split(".", 1)[0] != class_id.split(".", 1)[0]:
        raise ValueError("object_id and class_id must belong to the same issuer")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool) or issued_at < 0:
        raise ValueError(f"issued_at must be a Unix time in whole seconds, not {issued_at!r}")
    return {
        "iss": issuer_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": issued_at,
        "origins": [_origin(origin) for origin in _require_origins(origins)],
        "payload": {"loyaltyObjects": [{"id": object_id, "classId": class_id}]},
    }


def _require_origins(origins: Sequence[str]) -> Sequence[str]:
    if isinstance(origins, str) or not origins:
        raise ValueError("origins must be a non-empty list of URLs")
    return origins


def _origin(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"an origin must be an http(s) URL, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"
