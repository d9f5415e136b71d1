"""Offers a merchant publishes to a targeted part of a program's cardholders.

Invariants: an offer is published once; publishing records which cards it targeted
(and which were held out as a control group) in one transaction, bumps those cards'
passes and writes one outbox row, so every targeted pass shows the offer and every
device (and Google object) hears of it. Promotional offers reach only customers who
consented to marketing.
"""
