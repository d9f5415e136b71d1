"""Webhooks: the merchant's endpoints and what became of each delivery to them.

``models`` holds the endpoints, which event types each takes (``webhook_subscriptions``,
the rows the in-transaction writer ``app.outbox.webhooks`` selects from) and the
deliveries (one row per event and endpoint, queued like the outbox's rows); ``service``
registers, lists and deletes endpoints, reads the delivery log and queues a delivery
again; ``addresses`` decides which URLs and addresses may be called.

Invariants: an endpoint belongs to one merchant, and another merchant's endpoint or
delivery is not found (404); the secret is returned once, when the endpoint is made;
nothing here sends anything (``app.delivery.webhooks`` does, after commit); the service
commits once per use case.
"""
