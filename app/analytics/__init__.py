"""What the program brings and costs: figures read from the ledger, purchases and wallets.

Invariants: every figure is an SQL aggregate computed on the database (no rows are loaded
into Python to be counted); amounts are integers in the program's minor units; a figure
read for a location counts only what happened there (purchases and entries made at it,
cards enrolled at it); reading never writes.
"""
