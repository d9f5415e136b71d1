"""Automatic offers: rules a merchant switches on per program (a welcome series, birthdays,
"we miss you", a tier upgrade message) that the worker sends to one card at a time.

Invariants:
- Each rule owns one ``Offer`` row (``offers.automatic``) holding its texts; a send adds
  or renews that card's ``card_offers`` row, so an automatic offer is measured like a
  manual one (``card_offers.created_at`` starts the card's window; ``held_out`` marks the
  control group, chosen by the same stable hash as a manual offer's).
- A rule sends to a card at most once per period (``automation_sends``, unique per rule,
  card and period): reruns and racing workers send nothing twice.
- Only customers who consented to marketing (and were not erased) are reached; a birthday
  needs a birthday.
- A per-customer cap across both wallets (``notifying_messages``) and a per-program pause
  while the reward budget is exceeded (a predicate the caller passes) hold every send.
- One send is one transaction: the send record, the card's offer row, the pass bump and
  its outbox row commit together or not at all.
"""
