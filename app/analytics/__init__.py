"""What the program brings: figures read from the ledger and purchases (stats), and the
customers' RFM segments (``segments``).

Invariants: every figure is computed on the database with SQL aggregates, never by
loading a program's rows into Python; what is stored here (``card_segments``) is derived
data, recomputed whole from the purchases' caches on the cards, so rerunning a
computation changes nothing.
"""
