"""What a page is built of (pieces of text, tables, charts, sections) and the colours, lines and marks that tell
options apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """One table cell or inline phrase; the `piece` macro of templates/macros.html.j2 draws it.

    kind: est (a number, with `ci` an interval and `css` a shading class), muted, ci, strong, code
    (`title` on hover), badge (`css` its kind), name (an option's name, `css` its colour), option
    (a name, `title` a badge, `ci` a description), value or join (`parts` joined by `text`).
    """

    kind: str
    text: str = ""
    ci: str = ""
    css: str = ""
    title: str = ""
    parts: tuple = ()


@dataclass(frozen=True)
class Table:
    header: list
    rows: list[list]
    cls: str = ""


@dataclass(frozen=True)
class Chart:
    """A figure as an embedded PNG (base64) with its alternative text."""

    png: str
    alt: str


REFERENCE_COLOUR = "#4d4d4d"

# Okabe and Ito's colour-blind-safe palette (yellow left out: it vanishes on white); in greyscale the options
# stay apart by line style, marker and hatch, which cycle with the colour.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

LINE_STYLES = ("--", ":", "-.", (0, (6, 2)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 2, 2)))

MARKERS = ("o", "s", "^", "D", "v", "P", "X")

HATCHES = ("//", "..", "xx", "\\\\", "++", "--", "oo")

DPI = 150

MINUS = "\u2212"
