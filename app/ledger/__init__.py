"""The points ledger: purchases, refunds, entries, idempotency, fraud control, audit.

Invariants: entries are append-only integers (a correction is a reversing entry, never
an edit); a card's balance, stamps, rewards, tier, spend, visits and last visit are a
cache equal to what its entries and purchases say; the balance never goes below zero
(a database CHECK, and every change made under the card's row lock); every write
carries an idempotency key unique per merchant with a hash of its request; every
committed change bumps the card's pass and writes an outbox row in the same
transaction.
"""
