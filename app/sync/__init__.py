"""The outbox: changes that must reach phones, written in the ledger's transaction and
sent after commit by the worker (at least once; pending changes of one pass merge)."""
