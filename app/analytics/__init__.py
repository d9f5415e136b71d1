"""What the program brings and costs: figures read from the ledger, purchases and wallets
(``stats``, ``budget``, ``report``), and the customers' RFM segments (``segments``).

Invariants: every figure is an SQL aggregate computed on the database (no rows are loaded
into Python to be counted); amounts are integers in the program's minor units; a figure
read for a location counts only what happened there (purchases and entries made at it,
cards enrolled at it); reading never writes. What is stored here (``card_segments``) is
derived data, recomputed whole from the purchases' caches on the cards, so rerunning a
computation changes nothing.
"""
