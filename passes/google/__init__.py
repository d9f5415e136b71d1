"""Google Wallet loyalty cards for Loyalpass: LoyaltyClass/LoyaltyObject bodies and save links.

Plain values in, JSON-ready dicts or a URL out; no Flask, no database, no
``app``, no network. The service account key arrives as already-parsed JSON
(:func:`signer_from_service_account_info`), never as a path.

Invariants:

- Every class and object id is ``<issuer id>.<suffix>`` with the suffix in
  ``[A-Za-z0-9._-]``; anything else is a ValueError before Google sees it.
- A class is always sent with ``reviewStatus: UNDER_REVIEW`` (never a draft,
  which could hold no objects; approved classes are updated the same way).
- Object bodies are complete where Google's PATCH replaces: the full list of
  offers as ``textModulesData`` (empty when none), every LocalizedString with
  its ``translatedValues`` list, and ``secondaryLoyaltyPoints: None`` in a
  patch when the tier is gone, since ``null`` deletes a field.
- Localized text has the program's first locale as ``defaultValue`` and the
  others as translations; the labels are the caller's (:mod:`passes.labels`), one set
  for each of the program's locales.
- The barcode carries the same message as the Apple pass, with the card
  number as its human-readable text.
- A save link names only one object id and its class id, is RS256-signed with
  the service account key (``kid`` in the header) and is refused above
  :data:`MAX_SAVE_LINK_LENGTH` characters.
"""

from passes.google.model import (
    BARCODE_TYPES,
    KINDS,
    MAX_BALANCE,
    SUPPORTED_LOCALES,
    TEXT_IDS,
    GoogleCard,
    GoogleOffer,
    GoogleProgram,
    check_google_id,
)
from passes.google.objects import (
    localized_string,
    loyalty_class,
    loyalty_object,
    message,
    object_id,
    object_patch,
)
from passes.google.savelink import (
    MAX_SAVE_LINK_LENGTH,
    SAVE_URL_PREFIX,
    save_claims,
    save_link,
    signer_from_service_account_info,
)
from passes.labels import PassLabels

__all__ = [
    "BARCODE_TYPES",
    "KINDS",
    "MAX_BALANCE",
    "MAX_SAVE_LINK_LENGTH",
    "SAVE_URL_PREFIX",
    "SUPPORTED_LOCALES",
    "TEXT_IDS",
    "GoogleCard",
    "GoogleOffer",
    "GoogleProgram",
    "PassLabels",
    "check_google_id",
    "localized_string",
    "loyalty_class",
    "loyalty_object",
    "message",
    "object_id",
    "object_patch",
    "save_claims",
    "save_link",
    "signer_from_service_account_info",
]
