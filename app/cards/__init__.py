"""Customers and their cards: enrolment, card numbers, the pass's version.

Invariants: a customer and their cards belong to one merchant; a program holds at most
one card per customer; a card's number carries a Luhn check digit; every change that
must reach the phone moves ``pass_updated_at`` forward (the web service's tag) and, per
card, ``pass_last_modified`` to a later whole second (the pass's ``Last-Modified``).
"""
