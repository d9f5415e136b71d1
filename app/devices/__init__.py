"""Apple Wallet devices and their registrations for pass updates.

Invariants: a device is known by the ``deviceLibraryIdentifier`` it sends and holds the
newest push token it registered with; a registration ties one device to one card once;
the wallet's log messages are kept under a size cap.
"""
