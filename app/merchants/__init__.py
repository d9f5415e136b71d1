"""Merchants and what belongs to them: staff, API keys with roles, programs, locations.

Invariant: every row here belongs to exactly one merchant and is only ever looked up
through that merchant; API keys are stored as a SHA-256 hash and shown once.
"""
