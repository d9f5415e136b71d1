"""Google Wallet's state, kept in step with the ledger: one LoyaltyClass per program,
one LoyaltyObject per card, notifying messages within Google's budget, the save and
delete callbacks Google sends, and the service account (``account``). What sends them
is the Google channel, ``app.delivery.google``.

Invariants: nothing here talks to Google inside a request or a ledger transaction. A
change marks the class or object pending (a generation number bumped, so any number of
changes merge into one update carrying the newest state); the worker leases due rows,
sends them through the shared rate limiter and records the answer against the
generation it sent. At most three notifying messages per card in 24 hours; past that a
message is sent silently and the spent budget is recorded on it.
"""
