"""The bridge from the domain to the wallet libraries: certificates (``identity``), a
program's and a card's pass in the shapes ``passes.apple`` takes (``apple_shapes``) and
``.pkpass`` packages (``service``), and the Google class and object in the shapes
``passes.google`` takes (``google_shapes``), and the words both say of their own, from
the gettext catalogs (``labels``).

Invariants: ``passTypeIdentifier`` and ``teamIdentifier`` come from the loaded
certificate, never from settings; per-program artwork is prepared once per design version
(the design key changes whenever the program's look or texts change).
"""
