"""Points: a program's rules (pure: what a purchase earns, tiers, stamps, expiry) and
the one way ledger entries are appended (``postings.post``), keeping the card's cached
figures equal to its entries. Shared by enrolment (``app.cards``: welcome points) and
the ledger's use cases (``app.ledger``), below both, so neither imports the other's way.

Invariants: nothing here commits; entries are append-only integers; ``rules`` touches no
database.
"""
