"""A program's printable counter poster: the offer, the join QR code, two steps.

``content`` decides what the poster says (in one of our languages, from the program's
rules); ``layout`` fits text into a width (shrink, then wrap at word boundaries);
``pdf`` draws it with fpdf2 on A4 or A5. Nothing here reads or writes the database: the
web layer passes the program, the location and the join link it already checked.

Invariants:

- The PDF embeds its fonts (DejaVu Sans, vendored in ``app/static/fonts`` with their
  licence) and writes every text as text, so any Cyrillic name prints and can be
  searched and copied.
- The QR code is drawn as vector shapes, black on a white panel with a four-module quiet
  zone, whatever the program's colours: it must scan at the counter.
- Every text fits the page: it shrinks to a floor, wraps at spaces (a word longer than
  the line breaks between characters), and past its line budget ends in "…".
"""
