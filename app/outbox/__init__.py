"""The outbox: what a use case writes inside its own transaction so that a change reaches
phones, Google and mail boxes after commit (``app.delivery`` sends it).

Invariants: nothing here sends anything or talks to anything outside the database; a
row is written in the caller's transaction and commits or rolls back with it (the
caller commits, never this package); the workers are woken only after that commit
(in-process hooks, PostgreSQL's NOTIFY, which the database delivers at commit). This
package imports no feature package (import-linter): it sits below every use case.
``models`` holds the rows (``outbox``, ``mails``); ``messages`` the functions that
write them, the hand-written SQL fragment (``OUTBOX_ROW``, ``NOTIFY_EXPRESSION``),
the topics and the channel.
"""
