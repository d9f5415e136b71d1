"""Wallet pass libraries for Loyalpass: plain values in, bytes or dicts out.

Invariants shared by every subpackage:

- No Flask, no SQLAlchemy, no import from ``app``: the service depends on
  ``passes``, never the other way round.
- Certificates and keys arrive as bytes or already-loaded objects, never as
  paths; nothing here reads files the caller did not hand over, except the
  system font used to draw default artwork.
- Functions are deterministic for the same inputs, except where a
  cryptographic signature records the time it was made.
"""
