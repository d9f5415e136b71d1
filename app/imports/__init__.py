"""Customers in and out as CSV: a merchant moving from a plastic-card or spreadsheet
program brings their customers (``service.preview`` and ``service.import_customers``),
and takes them away again (``export``).

Invariants: a preview writes nothing; an import writes everything or nothing, in one
transaction with one commit, and only a file the preview found no problem in (or, when
the merchant asks, only its rows without problems). A customer the merchant already
knows (by email or phone) is matched, never doubled: a card of the program they hold
already is left as it is, so importing the same file again changes nothing. Each opening
balance is one ``adjust`` ledger entry with the reason ``import``, and the card's cached
balance is the sum of its entries. An old card number belongs to one card of the
merchant.
"""
