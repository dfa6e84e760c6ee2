"""The calibration in the report and the workbook: which parameters a region's posterior fitted and against which
targets, how much the decision's intervals changed from the prior ranges to the posterior, and the model against
every target, fitted and held out (`targets.csv` of `pathways-calibrate`; `sim.params.posterior` reads the rest).

The prior figures come from the same sets run on the prior ranges alone beside the posterior's
(`uncertainty/prior/`, `experiment.compare_prior`): the same design points for every uncalibrated parameter and
the same random numbers, so the difference between the two is the calibration's doing.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.outputs.formatting import estimate, number
from sim.params.paths import CONFIG_DIR
from sim.params.posterior import PARAMETERS, POSTERIOR, TARGETS, calibration_folder, read_meta
from sim.params.targets import TARGETS_FILE

UNCERTAINTY, PRIOR = "uncertainty", "prior"  # sim.analysis.probabilistic's folders in a sweep
EFFECTS = (("net_sustained_12m", 1.0, "Net sustained jobs"),  # the two effects, on the scale the report gives them
           ("vacancy_days", -1 / 365.0, "Vacancy-years avoided"))

# What a target outside its interval suggests, by its area: (the model's value is above, below) the figure
SUGGESTS = {
    "engagement": ("more of the model's referrals start than the programme's did: its early waits and needs "
                   "assessment may lose too few people",
                   "fewer of the model's referrals start than the programme's did: its early waits and needs "
                   "assessment may lose too many people"),
    "completion": ("more of the model's trainees complete than published: its withdrawal during courses may be "
                   "too low",
                   "fewer of the model's trainees complete than published: its withdrawal during courses may be "
                   "too high"),
    "job_outcome": ("the model gets more people into work than the programme measured: its recruitment funnel "
                    "(shortlisting, interview pass, offer acceptance) may be too generous",
                    "the model gets fewer people into work than the programme measured: its recruitment funnel "
                    "(shortlisting, interview pass, offer acceptance) or its patience during waits may be too "
                    "strict"),
    "time_to_hire": ("the model's time to hire is longer than published: its recruitment stages (shortlisting, "
                     "interviews, pre-employment checks) may be too slow",
                     "the model's time to hire is shorter than published: its recruitment stages (shortlisting, "
                     "interviews, pre-employment checks) may be too quick"),
    "internal_recruitment": ("more of the model's care recruits come from within the sector than published: its "
                             "moves between care employers may be too frequent",
                             "fewer of the model's care recruits come from within the sector than published: its "
                             "moves between care employers may be too rare"),
    "leavers_staying": ("more of the model's care leavers stay in the sector than published: its moves between "
                        "employers may be too frequent beside leaving care",
                        "fewer of the model's care leavers stay in the sector than published: its moves between "
                        "employers may be too rare beside leaving care"),
    "first_year_leaving": ("more of the model's new care workers leave in their first year than published: its "
                           "first-year turnover may be too high",
                           "fewer of the model's new care workers leave in their first year than published: its "
                           "first-year turnover may be too low"),
}


@dataclass(frozen=True)
class TargetRow:
    """One row of a calibration's targets.csv, with the unit its figure is on."""

    id: str
    role: str  # calibration | validation
    area: str
    quantity: str
    figure: float
    tolerance: float
    prior: tuple[float, float, float]  # mean, low, high of the prior predictive
    posterior: tuple[float, float, float]
    prior_verdict: str  # within | outside
    posterior_verdict: str
    kind: str  # formatting's kind: pct (a share) or days

    def value(self, which: tuple[float, float, float]) -> tuple[str, str]:
        """A predictive interval as (mean, 'low to high') in the figure's unit."""
        w = estimate(*which, kind=self.kind)
        unit = " days" if self.kind == "days" else ""
        return w.value + unit, (w.interval + unit if w.interval else "")

    def figure_text(self) -> str:
        """The published figure and the band around it that counts as a fit: '63% ± 12 pp', '77 days ± 10 days'."""
        if self.kind == "pct":
            return f"{number(self.figure, 'pct')} ± {100 * self.tolerance:g} pp"
        return f"{number(self.figure, self.kind)} days ± {self.tolerance:g} days"

    def suggests(self) -> str:
        """One sentence on what a target outside its posterior predictive interval suggests."""
        above = self.posterior[0] > self.figure
        mean, interval = self.value(self.posterior)
        where = SUGGESTS.get(self.area, ("the model is above the published figure", "the model is below it"))
        return (f"{self.quantity[:1].upper()}{self.quantity[1:]} ({self.id}): the model gives {mean} ({interval}) "
                f"against a published {number(self.figure, self.kind)}{' days' if self.kind == 'days' else ''}, so "
                f"{where[0 if above else 1]}.")


def _kinds() -> dict[str, str]:
    """Each target's unit from the measure configs/targets.yaml names for it (a measure of days ends in _days)."""
    try:
        rows = yaml.safe_load(TARGETS_FILE.read_text()).get("targets") or []
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {str(r.get("id")): "days" if str(r.get("measure", "")).endswith("_days") else "pct" for r in rows
            if isinstance(r, dict)}


def read_targets(folder: Path) -> list[TargetRow]:
    """A calibration folder's targets.csv, validation targets first (as the report lists them)."""
    kinds = _kinds()
    out = []
    with (folder / TARGETS).open(newline="") as f:
        for r in csv.DictReader(f):
            def triple(which: str, r: dict = r) -> tuple[float, float, float]:
                return float(r[f"{which}_mean"]), float(r[f"{which}_low"]), float(r[f"{which}_high"])
            figure = float(r["figure"])
            kind = kinds.get(r["id"], "pct" if 0.0 <= figure <= 1.0 else "days")
            out.append(TargetRow(r["id"], r["role"], r["area"], r["quantity"], figure, float(r["tolerance"]),
                                 triple("prior"), triple("posterior"), r["prior_verdict"], r["posterior_verdict"],
                                 kind))
    return sorted(out, key=lambda t: t.role != "validation")


def read_parameters(folder: Path) -> list[dict[str, str]]:
    """A parameters.csv with a label per parameter: a calibration folder's (its prior and posterior intervals) or a
    run's uncertainty/ (its ranges)."""
    path = folder / PARAMETERS
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Used:
    """The calibration a sweep's sets drew from (its uncertainty/decide.json), or the region's when they did not."""

    folder: Path | None  # None: the region has no finished calibration
    drawn: bool  # the sets' calibrated parameters came from its posterior
    meta: dict  # calibration.json
    changed: bool  # posterior.csv's hash is not the one the sets were drawn from

    @property
    def where(self) -> str:
        """The folder as the report names it: from the repository's root when inside it."""
        if self.folder is None:
            return ""
        root = CONFIG_DIR.parent
        return str(self.folder.relative_to(root)) if self.folder.is_relative_to(root) else str(self.folder)


def used(sweep: Path, region: str) -> Used:
    """Which calibration the report shows for a sweep on `region`."""
    decided = _json(sweep / UNCERTAINTY / "decide.json")
    recorded = decided.get("posterior") if decided.get("drawn_from") == "posterior" else None
    if isinstance(recorded, dict):
        folder = Path(str(recorded.get("folder", "")))
        folder = folder if folder.is_absolute() else CONFIG_DIR.parent / folder
        if (folder / POSTERIOR).is_file():
            import hashlib

            changed = hashlib.sha256((folder / POSTERIOR).read_bytes()).hexdigest() != recorded.get("sha256")
            return Used(folder, True, _json(folder / "calibration.json"), changed)
    found = calibration_folder(region)
    return Used(found, False, read_meta(found) if found else {}, False)


def _interval(rows: dict, option: str, kpi: str, factor: float) -> tuple[float, float, float] | None:
    r = rows.get((option, kpi))
    if r is None:
        return None
    lo, hi = sorted((r[1] * factor, r[2] * factor))
    return r[0] * factor, lo, hi


def _uncertainty(folder: Path) -> dict[tuple[str, str], tuple[float, float, float]]:
    path = folder / "uncertainty.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {(r["option"], r["kpi"]): (float(r["psa_mean"]), float(r["psa_low"]), float(r["psa_high"]))
                for r in csv.DictReader(f)}


def leading(recommendation: dict) -> str | None:
    """The option the recommendation leads with: the one funded for jobs, else the likeliest best buy for them."""
    recs = recommendation.get("recommendations") or []
    if not recs:
        return None
    first = recs[0]
    if first["fund"] != first["reference"]:
        return str(first["fund"])
    others = {k: v for k, v in first["p_best"].items() if k != first["reference"]}
    return max(others, key=lambda k: others[k]) if others else None


def decision_change(sweep: Path) -> dict | None:
    """How the leading option's expected effects changed from the prior ranges to the posterior: per effect, the
    expected value and the interval holding 95% of the sets with each, and the widths; its probability of being
    the best buy with each. None unless the sets drew from a posterior and the prior sets ran beside them."""
    post_folder, prior_folder = sweep / UNCERTAINTY, sweep / UNCERTAINTY / PRIOR
    rec, prior_rec = _json(post_folder / "recommendation.json"), _json(prior_folder / "recommendation.json")
    option = leading(rec)
    post, prior = _uncertainty(post_folder), _uncertainty(prior_folder)
    if option is None or not prior:
        return None
    rows = []
    for kpi, factor, words in EFFECTS:
        a, b = _interval(prior, option, kpi, factor), _interval(post, option, kpi, factor)
        if a is None or b is None:
            continue
        rows.append({"effect": words, "kpi": kpi, "prior": a, "posterior": b, "prior_width": a[2] - a[1],
                     "posterior_width": b[2] - b[1],
                     "change": (b[2] - b[1]) / (a[2] - a[1]) - 1 if a[2] > a[1] else math.nan})

    def p_best(r: dict) -> dict[str, float]:
        return {x["effect"]: x["p_best"].get(option, math.nan) for x in r.get("recommendations", [])}

    return {"option": option, "rows": rows, "p_prior": p_best(prior_rec), "p_posterior": p_best(rec),
            "sets": (rec.get("recommendations") or [{}])[0].get("sets")}
