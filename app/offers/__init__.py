"""Offers a merchant publishes to a targeted part of a program's cardholders.

Invariants: an offer is published once; publishing records which cards it targeted
(and which were held out as a control group) and writes one outbox row in one
transaction; the row's fan-out bumps those cards' passes as it marks their devices
pending (``app.delivery.fanout``: that UPDATE of every card reached is not the
request's), so every targeted pass shows the offer and every device (and saved Google
object) hears of it. Promotional offers reach only customers who
consented to marketing.
"""
