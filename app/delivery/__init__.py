"""Delivery: everything that runs after commit, in the worker loops.

``fanout`` turns outbox rows into pending pushes and pending Google objects;
``pushes`` is the APNs channel (the push loop: fan-out, then dispatch); ``google`` the
Google Wallet channel (its queue, client wiring, shared limiter and sync loop);
``mail`` the mail channel; ``webhooks`` the webhook channel (``webhook_client`` its
HTTP client, which connects only to addresses it checked); ``loop`` the loop every
channel runs in and the PostgreSQL listener; ``presence`` the process's heartbeat (its
row in ``workers``, ``models``), which every lease names; ``workers`` builds one
process's loops;
``senders`` picks the push sender; ``deliveries`` is what the merchant sees of
deliveries and the retry of parked ones; ``backlog`` is what waits in every channel, for
``/metrics``.

Invariants: nothing here runs inside a use case's transaction; every channel leases its
rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's write lock), sends outside
any transaction, records each answer, retries with backoff and parks after its last
attempt: at least once, and a crash loses nothing (a dead worker's leases are freed
within seconds: ``presence``). A new channel is a module of its own
with its loop, added in ``workers``. Only the web layer imports this
package.
"""
