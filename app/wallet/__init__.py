"""The bridge from the domain to the wallet libraries: certificates, pass views, packages,
and the Google class and object views (``google_views``).

Invariants: ``passTypeIdentifier`` and ``teamIdentifier`` come from the loaded
certificate, never from settings; per-program artwork is prepared once per design version
(the design key changes whenever the program's look or texts change).
"""
