"""Numbers as every output prints them: digits a difference needs, one unit for a value and its interval, signs,
options' names."""

from __future__ import annotations

import math
import re
import textwrap

from markupsafe import Markup, escape

from sim.outputs.elements import MINUS, Piece
from sim.outputs.folder import Option

# ----------------------------------------------------------------------------- formatting
BASE_DIGITS = {"pp": 2, "small": 1}  # decimals by kind (others: 0), raised where a difference would vanish

MAX_DIGITS = 6


def _number(x: float | None, kind: str, signed: bool = False, digits: int | None = None,
            scale: float | None = None) -> str:
    """One number as the report prints it.

    kind: count, small (1 decimal), days, gbp, gbpk (£337k, £1.87m), pct or pp (of a share).
    `digits` (decimals) defaults to the kind's; a non-zero number that would print as 0 gets
    the decimals it needs for two significant digits. `scale` (gbpk) picks pounds, k or m for a value
    and its interval together: the largest of them, so '£11k (£10k to £12k)', never '£9,984 to £12k'.
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    if kind in ("pct", "pp"):
        x *= 100
    size = abs(x) if scale is None else scale
    if kind == "gbpk" and size >= 10_000:
        m = size >= 1e6
        places = (2 if m else 0) if digits is None else digits
        text = f"{abs(x) / 1e6:,.{places}f}m" if m else f"{abs(x) / 1e3:,.{places}f}k"
    else:
        places = BASE_DIGITS.get(kind, 0) if digits is None else digits
        if digits is None and x != 0 and abs(x) < 0.5 * 10 ** -places:
            places = min(MAX_DIGITS, 1 - math.floor(math.log10(abs(x))))
        text = f"{abs(x):,.{places}f}"
    nonzero = bool(text.strip("0.,mk"))
    sign = MINUS if x < 0 and nonzero else "+" if signed and x > 0 and nonzero else ""
    if kind in ("gbp", "gbpk"):
        return f"{sign}£{text}"
    return sign + text + {"pct": "%", "pp": " pp"}.get(kind, "")


def muted(text: str) -> Piece:
    return Piece("muted", text)


def code(text: str, title: str = "") -> Piece:
    """Monospaced, with line-break opportunities after , = . / so long labels and keys wrap cleanly."""
    return Piece("code", text, title=title)


def name(o: Option) -> Piece:
    """An option's name with the swatch of its colour."""
    return Piece("name", o.label, css=o.colour)


def badge(text: str, kind: str) -> Piece:
    return Piece("badge", text, css=kind)


def _ci(mean: float, low: float, high: float, kind: str, signed: bool = False, mark: str = "") -> Piece:
    """'257 (250 to 264)': the mean, with the interval in a smaller span when there is one."""
    ci, digits = "", None
    if math.isfinite(low) and math.isfinite(high) and math.isfinite(mean) and low != high:
        digits, scale = _digits(kind, low, high), max(abs(low), abs(high), abs(mean))
        ci = f"{_number(low, kind, signed, digits, scale)} to {_number(high, kind, signed, digits, scale)}"
        return Piece("est", _number(mean, kind, signed, digits, scale), ci=ci, css=mark)
    return Piece("est", _number(mean, kind, signed, digits), ci=ci, css=mark)


def _digits(kind: str, low: float, high: float) -> int | None:
    """Decimals that show the first significant digit of an interval's half-width (at least the kind's own).

    For money in thousands or millions (gbpk at £10k and over) they are decimals of the k or m, so that
    '£15.4k (£15.0k to £15.8k)' does not print as '£15k (£15k to £16k)'."""
    if kind == "gbpk" and max(abs(low), abs(high)) >= 10_000:  # the scale `_number` is given with them
        unit, base = (1e6, 2) if max(abs(low), abs(high)) >= 1e6 else (1e3, 0)
        half = abs(high - low) / 2 / unit
        return base if half <= 0 else min(3, max(base, -math.floor(math.log10(half))))
    if kind in ("gbp", "gbpk"):
        return None
    half = abs(high - low) / 2 * (100 if kind in ("pct", "pp") else 1)
    base = BASE_DIGITS.get(kind, 0)
    return base if half <= 0 else min(MAX_DIGITS, max(base, -math.floor(math.log10(half))))


def _cell(row: dict | None, kind: str, mark: str = "") -> Piece | str:
    """Mean and 95% CI of a KPI that cannot be negative (nor above 1 for a share): the CI is cut there."""
    if row is None:
        return "n/a"
    top = 1.0 if kind == "pct" else math.inf
    return _ci(row["mean"], max(row["ci_low"], 0.0), min(row["ci_high"], top), kind, mark=mark)


def _diff_cell(row: dict | None, kind: str, option: Option) -> Piece | str:
    if option.is_reference:
        return muted("reference")
    if row is None or not math.isfinite(row["diff_mean"]):
        return "n/a"
    return _ci(row["diff_mean"], row["diff_ci_low"], row["diff_ci_high"], kind, signed=True)


def _option_cell(o: Option, compared: bool) -> Piece:
    return Piece("option", o.label, ci=o.description, css=o.colour,
                 title="reference" if o.is_reference and compared else "")


def _wbr(text: object) -> Markup:
    """The `wbr` filter: escaped text with line-break opportunities after , = . /"""
    return Markup(re.sub(r"([,=./])", r"\1<wbr>", str(escape(text))))


def _wrap(label: str, width: int = 30) -> str:
    """A chart label on several lines, broken after commas where it can be."""
    lines, line = [], ""
    for part in re.split(r"(?<=,)", label):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    lines.append(line)
    return "\n".join(sub for ln in lines for sub in textwrap.wrap(ln, max(width, 12)) or [ln])


def _compact(v: float, unit: str = "") -> str:
    """An axis tick: 40k, 1.5m, 250 (with a currency sign in front if given)."""
    sign = MINUS if v < 0 else ""
    a = abs(v)
    if a >= 1e6:
        return f"{sign}{unit}{a / 1e6:g}m"
    if a >= 1e4:
        return f"{sign}{unit}{a / 1e3:g}k"
    return f"{sign}{unit}{a:,.0f}" if a >= 1 or a == 0 else f"{sign}{unit}{a:g}"


def _count(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == 0 else f"{x:.1f}"


# ----------------------------------------------------------------------------- a run in words
def run_length(days: float | None) -> str:
    """A simulated horizon as a planner says it: '5 years', '18 months', '90 days'."""
    if days is None:
        return "?"
    years = days / 365.25
    if years >= 1 and abs(years - round(years)) < 0.01:
        return f"{round(years)} year{'s' if round(years) != 1 else ''}"
    if days >= 60:
        return f"{round(days / 30.44)} months"
    return f"{days:.0f} days"


def duration(seconds: float | None) -> str:
    """Wall-clock time taken: '40 s', '3 min 05 s', '1 h 12 min'."""
    if seconds is None or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
