"""Numbers and names as every output writes them (console, report, page, workbook): one scale and unit for a value
and its interval, decimals from the interval's width, people as whole numbers, and plain words for internal
names (groups, capacities, courses, exit reasons, mixes)."""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass

from markupsafe import Markup, escape

from sim.outputs.elements import MINUS, Piece
from sim.outputs.folder import Option, _support, stage_label
from sim.params.labels import label_of

# ----------------------------------------------------------------------------- numbers
# Kinds of number (a KPI's `unit`): count (people and posts: whole numbers), small (one decimal), days,
# gbp (pounds), gbpk (pounds, in k or m from £10k), pct (a share, printed as %) and pp (a change in a share).
KINDS = ("count", "small", "days", "gbp", "gbpk", "pct", "pp")
BASE_DIGITS = {"pp": 2, "small": 1}  # decimals of a number without an interval (others: 0)
MAX_DIGITS = 6
WHOLE = ("count", "gbp")  # kinds always printed as whole numbers, whatever their interval


@dataclass(frozen=True)
class Scale:
    """How a value and its interval print together: divided by `factor`, with `suffix` (k, m) and `decimals`."""

    factor: float = 1.0
    suffix: str = ""
    decimals: int = 0


def scale(kind: str, mean: float, low: float = math.nan, high: float = math.nan) -> Scale:
    """The one scale of a value and its interval: pounds, k or m from the largest of them (so never
    '£11k (£9,984 to £12k)'), and decimals that show the first significant digit of the interval's
    half-width (so '+0.00 pp (-0.05 pp to +0.05 pp)', never '+0.00091 pp' beside '-0.05 pp'); a number
    without an interval gets its kind's own decimals. People are whole numbers."""
    finite = [abs(x) for x in (mean, low, high) if math.isfinite(x)]
    size = max(finite, default=0.0) * (100 if kind in ("pct", "pp") else 1)
    factor, suffix, base = 1.0, "", BASE_DIGITS.get(kind, 0)
    if kind == "gbpk" and size >= 10_000:
        factor, suffix, base = (1e6, "m", 2) if size >= 1e6 else (1e3, "k", 0)
    if kind in WHOLE:
        return Scale(factor, suffix, 0)
    if math.isfinite(low) and math.isfinite(high) and low != high:
        half = abs(high - low) / 2 * (100 if kind in ("pct", "pp") else 1) / factor
        base = min(MAX_DIGITS if factor == 1 else 3, max(0, -math.floor(math.log10(half))))
    return Scale(factor, suffix, base)


def number(x: float | None, kind: str, signed: bool = False, at: Scale | None = None) -> str:
    """One number with its unit ('£7,278', '£1.46m', '42%', '+0.05 pp'; a true minus sign), at the scale given or
    its own; 'n/a' for a missing or infinite one."""
    if x is None or not math.isfinite(x):
        return "n/a"
    sc = at or scale(kind, x)
    shown = x * (100 if kind in ("pct", "pp") else 1) / sc.factor
    text = f"{abs(shown):,.{sc.decimals}f}"
    nonzero = bool(text.strip("0.,"))
    sign = MINUS if shown < 0 and nonzero else "+" if signed and shown > 0 and nonzero else ""
    if kind in ("gbp", "gbpk"):
        return f"{sign}£{text}{sc.suffix}"
    return sign + text + {"pct": "%", "pp": " pp"}.get(kind, "")


@dataclass(frozen=True)
class Written:
    """A value and its 95% interval as text, each with its unit: str() gives '£7,278 (£7,121 to £7,436)'."""

    value: str
    low: str = ""
    high: str = ""

    @property
    def interval(self) -> str:
        return f"{self.low} to {self.high}" if self.low else ""

    def __str__(self) -> str:
        return f"{self.value} ({self.interval})" if self.low else self.value


def estimate(mean: float, low: float = math.nan, high: float = math.nan, kind: str = "count",
             signed: bool = False) -> Written:
    """A value and its interval on one scale, with the unit on every number ('n/a' without a value)."""
    if not math.isfinite(mean):
        return Written("n/a")
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return Written(number(mean, kind, signed))
    sc = scale(kind, mean, low, high)
    return Written(number(mean, kind, signed, sc), number(low, kind, signed, sc), number(high, kind, signed, sc))


def excel_format(kind: str, low: float = math.nan, high: float = math.nan) -> str:
    """A spreadsheet number format for a number of this kind: the decimals `scale` gives its interval, the
    unit as a format (the cell keeps the full number)."""
    sc = scale(kind, math.nan, low, high)
    decimals = 0 if kind == "gbpk" else sc.decimals
    body = "#,##0" + ("." + "0" * decimals if decimals else "")
    return {"gbp": f"£{body}", "gbpk": f"£{body}", "pct": f"{body[4:]}%", "pp": f"{body[4:]}%"}.get(kind, body)


# ----------------------------------------------------------------------------- names
SECTOR_LABELS = {"nhs": "NHS", "social_care": "Adult social care"}
CAPACITY_LABELS = {"advisers": "Adviser caseloads", "interview_slots": "Interview slots"}
GROUP_LABELS = {"all": "All", "parents": "Parents of young children",
                "health_condition": "Health condition or disability"}


def course_label(course: str, config: dict) -> str:
    courses = ((config.get("pathway") or {}).get("training") or {}).get("courses") or {}
    return label_of(course, courses.get(course))


def capacity_label(cap: str, config: dict) -> str:
    """A capacity (`advisers`, `course:X`, a support stage) as the report names it."""
    if cap.startswith("course:"):
        label = course_label(cap.split(":", 1)[1], config)
        return f"Places on the {label[:1].lower() + label[1:] if label[1:2].islower() else label}"
    if cap in _support(config):
        return f"{stage_label(cap, config)}: places"
    return CAPACITY_LABELS.get(cap, label_of(cap).capitalize())


def group_label(group: str, config: dict) -> str:
    """A group of comparison.csv (`sector:nhs`, `role:care_worker`, `quintile:1`, `capacity:course:X`,
    `intervention:outreach`, `channel:jobcentre`) in words, from the run's config where it names them."""
    kind, _, key = group.partition(":")
    region = config.get("region") or {}
    workforce = region.get("workforce") or {}
    where = {"employer": workforce.get("groups"), "role": workforce.get("roles"), "channel": region.get("channels"),
             "intervention": config.get("intervention")}.get(kind)
    if where is not None:
        return label_of(key, where.get(key))
    if kind == "sector":
        return SECTOR_LABELS.get(key, label_of(key))
    if kind == "capacity":
        return capacity_label(key, config)
    if kind == "quintile":
        return f"Quintile {key}" + {"1": " (most deprived)", "5": " (least deprived)"}.get(key, "")
    return GROUP_LABELS.get(group, label_of(group))


def reason_label(reason: str, *configs: dict) -> str:
    """A funnel exit reason in words: a course's key ('did not complete care_preemployment') becomes its label,
    from the first of the configs (the options') that has the course (an option may add one)."""
    for config in configs:
        for course in ((config.get("pathway") or {}).get("training") or {}).get("courses") or {}:
            if reason.endswith(f" {course}"):
                return f"{reason.removesuffix(course)}the {course_label(course, config)}"
    return reason


def mix_label(sizes: dict[str, int], labels: dict[str, str]) -> str:
    """A mix of interventions and their sizes in words ('outreach=2 employment_advisers=2' -> 'Community
    outreach: 2 places; Employment advisers: 2 places'), from the interventions' own labels (name -> label)."""
    parts = [f"{labels.get(n) or label_of(n)}: {k:,} place{'s' if k != 1 else ''}" for n, k in sizes.items() if k > 0]
    return "; ".join(parts) or "nothing"


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
    """'£7,278 (£7,121 to £7,436)': the mean, with the interval in a smaller span when there is one."""
    w = estimate(mean, low, high, kind, signed)
    return Piece("est", w.value, ci=w.interval, css=mark)


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
