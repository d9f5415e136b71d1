"""Fitting text into a width: the largest size at which every paragraph wraps into its
line budget, lines balanced, and an ellipsis when even the smallest size does not fit.

Widths come from a ``Measure`` (text and font size in points -> width), so this module
knows no PDF library and its rules can be tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Measure = Callable[[str, float], float]  # (text, size in points) -> width

ELLIPSIS = "…"
DASHES = frozenset({"—", "–", "-"})
_SIZE_STEP = 0.5  # points between the sizes tried
_BALANCE_ROUNDS = 14  # halvings of the width searched when balancing lines


@dataclass(frozen=True)
class Fitted:
    size: float  # points, the same for every paragraph
    paragraphs: tuple[tuple[str, ...], ...]  # each paragraph's lines
    cut: bool = False  # a paragraph did not fit even at the smallest size: it ends in "…"

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(line for paragraph in self.paragraphs for line in paragraph)


def wrap(text: str, width: float, size: float, measure: Measure) -> list[str]:
    """``text`` in lines no wider than ``width``, broken at spaces; a word wider than a
    line on its own is broken between characters. No-break spaces do not break."""
    lines: list[str] = []
    current = ""
    for word in _words(text):
        candidate = f"{current} {word}" if current else word
        if measure(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for piece in _split_word(word, width, size, measure):
            if current:
                lines.append(current)
            current = piece
    if current:
        lines.append(current)
    return lines


def _words(text: str) -> list[str]:
    """The units a line may break between: words, with a dash kept on the word before it
    (a line never starts with "—")."""
    words: list[str] = []
    for word in text.split(" "):
        if word and word in DASHES and words:
            words[-1] = f"{words[-1]} {word}"
        elif word:
            words.append(word)
    return words


def _split_word(word: str, width: float, size: float, measure: Measure) -> list[str]:
    if measure(word, size) <= width:
        return [word]
    pieces: list[str] = []
    piece = ""
    for char in word:
        if piece and measure(piece + char, size) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece] if piece else pieces


def fit(paragraphs: Sequence[str], *, width: float, largest: float, smallest: float,
        max_lines: int, measure: Measure) -> Fitted:
    """Every paragraph at one size, the largest from ``largest`` down to ``smallest`` at
    which each wraps into at most ``max_lines`` lines, with its lines balanced (the
    narrowest width that needs no more lines); at ``smallest``, a paragraph still too long
    keeps ``max_lines`` lines and ends in an ellipsis."""
    size = largest
    while size >= smallest:
        if all(len(wrap(text, width, size, measure)) <= max_lines for text in paragraphs):
            return Fitted(size, tuple(_balanced(text, width, size, measure)
                                      for text in paragraphs))
        size -= _SIZE_STEP
    return Fitted(smallest, tuple(_cut(wrap(text, width, smallest, measure), max_lines,
                                       width, smallest, measure) for text in paragraphs),
                  cut=True)


def _balanced(text: str, width: float, size: float, measure: Measure) -> tuple[str, ...]:
    """The lines of ``text``, filled from the first, unless that leaves the last line under
    half as wide as the widest: then the lines at the narrowest width that still gives
    as few, so that a title breaks near its middle rather than leaving one word below."""
    greedy = wrap(text, width, size, measure)
    count = len(greedy)
    widest = max((measure(line, size) for line in greedy), default=0.0)
    if count <= 1 or measure(greedy[-1], size) >= widest / 2:
        return tuple(greedy)
    narrow, wide = width / count, width
    for _ in range(_BALANCE_ROUNDS):
        middle = (narrow + wide) / 2
        if len(wrap(text, middle, size, measure)) <= count:
            wide = middle
        else:
            narrow = middle
    return tuple(wrap(text, wide, size, measure))


def _cut(lines: list[str], max_lines: int, width: float, size: float,
         measure: Measure) -> tuple[str, ...]:
    if len(lines) <= max_lines:
        return tuple(lines)
    kept = lines[:max_lines]
    last = kept[-1]
    while last and measure(last + ELLIPSIS, size) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return tuple(kept)
