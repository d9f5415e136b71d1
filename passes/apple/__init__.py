"""Apple Wallet store cards for Loyalpass: pass.json, artwork, localization, signing, zip.

Plain values in, bytes or dicts out; no Flask, no database, no ``app``.
Certificates arrive as bytes (:func:`load_signing_identity`) and every problem
with them is a :class:`CertificateError` at load time, not a broken pass later.

Invariants:

- ``passTypeIdentifier`` and ``teamIdentifier`` always come from the pass
  certificate (subject UID and OU), never from configuration.
- Every file of a package is listed in manifest.json with its SHA-1, and
  nothing else is; the signature is a detached PKCS#7 over the manifest's exact
  bytes, with a signing time and the WWDR intermediate.
- pass.json text is in the design's primary locale, and each of its localizable
  strings is a key in every locale's pass.strings.
- pass.json text is the caller's: labels come in with the design
  (:class:`~passes.labels.PassLabels`, one per locale); the library words nothing.
- Per-design work (artwork, strings, hashes) happens once per ``design_key``
  in :class:`PassPackager` (a stamp card's strip once per design and number of
  stamps shown); per card only pass.json, the manifest, the signature and three
  zip entries are produced, and the strings files again (the design's lines, then
  the card's) when the card has phrases of its own: offers, a stamp card's next step.
- Only fields a customer wants to hear about carry a ``changeMessage``: the
  balance or stamps, a reward earned, the tier, the offers.
"""

from passes.apple.devcerts import DevelopmentChain, make_development_chain
from passes.apple.identity import (
    CertificateError,
    SigningIdentity,
    load_certificate,
    load_signing_identity,
)
from passes.apple.images import validate_logo, validate_stamp_icon, validate_strip
from passes.apple.model import Colors, PassCard, PassDesign, PassLocation
from passes.apple.package import (
    MEDIA_TYPE,
    CardTail,
    DesignParts,
    PreparedDesign,
    PreparedFile,
    build_package,
    card_tail,
    join_package,
    prepare_design,
    prepare_parts,
)
from passes.apple.packager import PassPackager
from passes.apple.passjson import build_pass_json
from passes.apple.signing import sign_manifest
from passes.labels import PassLabels

__all__ = [
    "MEDIA_TYPE",
    "CardTail",
    "CertificateError",
    "Colors",
    "DesignParts",
    "DevelopmentChain",
    "PassCard",
    "PassDesign",
    "PassLabels",
    "PassLocation",
    "PassPackager",
    "PreparedDesign",
    "PreparedFile",
    "SigningIdentity",
    "build_package",
    "build_pass_json",
    "card_tail",
    "join_package",
    "load_certificate",
    "load_signing_identity",
    "make_development_chain",
    "prepare_design",
    "prepare_parts",
    "sign_manifest",
    "validate_logo",
    "validate_stamp_icon",
    "validate_strip",
]
