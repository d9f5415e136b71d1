"""Clients for the services Loyalpass talks to (Apple's push service; Google Wallet).

Each integration is a small interface (a ``Protocol``), one real client and a fake that
records what it was asked, for the service tests.

Invariants: integrations never import ``app.web`` or any service module, and never touch
the database; they take plain values and return plain values (dataclasses). They never
raise for a problem that belongs to one item of a batch: they classify it in the result,
and the caller decides what to retry, delete or report.
"""
