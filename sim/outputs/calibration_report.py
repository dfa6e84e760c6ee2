"""The calibration folder's report: report.md with its tables and PNG figures (one per target: prior and posterior
predictive against the published figure; one of the calibrated parameters' prior and posterior intervals)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.experiment.replications import write_text
from sim.outputs.elements import DPI

PRIOR, POSTERIOR, FIGURE = "#9e9e9e", "#1f77b4", "#d62728"


def _save(fig: Figure, path: Path) -> None:
    """A PNG written atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def target_figure(path: Path, title: str, figure: float, tolerance: float, prior: np.ndarray,
                  posterior: np.ndarray, role: str) -> None:
    """Prior and posterior predictive histograms of one target, the figure and its tolerance band."""
    fig = Figure(figsize=(5.2, 2.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    values = np.concatenate([prior[np.isfinite(prior)], posterior[np.isfinite(posterior)]])
    lo = min(float(values.min()) if len(values) else figure, figure - tolerance)
    hi = max(float(values.max()) if len(values) else figure, figure + tolerance)
    bins = [float(b) for b in np.linspace(lo, hi, 31)]
    ax.axvspan(figure - tolerance, figure + tolerance, color=FIGURE, alpha=0.12, label="figure ± tolerance")
    for data, colour, label in ((prior, PRIOR, "prior predictive"), (posterior, POSTERIOR, "posterior predictive")):
        ok = data[np.isfinite(data)]
        if len(ok):
            ax.hist(ok, bins=bins, density=True, color=colour, alpha=0.55, label=label)
    ax.axvline(figure, color=FIGURE, linewidth=1.5, label="published figure")
    ax.set_title(f"{title} ({role})", fontsize=9)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    _save(fig, path)


def parameter_figure(path: Path, names: Sequence[str], posterior: np.ndarray) -> None:
    """Each calibrated parameter's central 95% interval and median, prior against posterior, on the quantile scale
    of its prior range (so parameters of any unit sit on one axis)."""
    n = len(names)
    fig = Figure(figsize=(6.5, 0.45 * n + 1.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for i in range(n):
        y = n - 1 - i
        ax.plot([0.025, 0.975], [y + 0.15] * 2, color=PRIOR, linewidth=4, solid_capstyle="butt",
                label="prior 95%" if i == 0 else None)
        ax.plot([0.5], [y + 0.15], "|", color="black", markersize=8)
        lo, mid, hi = np.percentile(posterior[:, i], [2.5, 50, 97.5])
        ax.plot([lo, hi], [y - 0.15] * 2, color=POSTERIOR, linewidth=4, solid_capstyle="butt",
                label="posterior 95%" if i == 0 else None)
        ax.plot([mid], [y - 0.15], "|", color="black", markersize=8)
    ax.set_yticks(range(n), list(reversed(names)), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("quantile of the prior range", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(fontsize=7, frameon=False, loc="outside upper center", ncols=2)
    _save(fig, path)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _num(x: str, digits: int = 3) -> str:
    try:
        v = float(x)
    except ValueError:
        return x
    return "" if v != v else f"{v:,.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def _table(rows: list[dict[str, str]], columns: Sequence[str]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_num(r[c]) for c in columns) + " |" for r in rows]
    return out


def write_report(out: Path, info: dict[str, Any], predictive: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """report.md and its figures (figures/), from the folder's tables, what calibration.json will say (`info`) and
    each target's prior and posterior predictive values (`predictive`, by target id)."""
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    targets = _rows(out / "targets.csv")
    params = _rows(out / "parameters.csv")
    diag = _rows(out / "diagnostics.csv")
    post = _rows(out / "posterior.csv")
    names = [c for c in (post[0] if post else {}) if c != "draw"]
    parameter_figure(figs / "parameters.png", names,
                     np.asarray([[float(r[n]) for n in names] for r in post]).reshape(len(post), len(names)))
    for t in targets:
        prior, posterior = predictive[t["id"]]
        target_figure(figs / f"target_{t['id']}.png", t["id"], float(t["figure"]), float(t["tolerance"]), prior,
                      posterior, t["role"])
    lines = [f"# Calibration of {info['region']}", "",
             f"Method: {info['method']}.", "",
             f"Targets: {info['targets_file']} (split into calibration and validation on {info['split_made']}, before "
             f"any calibration). Only the {len(info['calibration_targets'])} calibration targets were shown to the "
             f"fit; the {len(info['validation_targets'])} validation targets were measured on the prior and "
             "posterior predictive runs only.", "",
             f"{info['waves']} waves (the final one in {info['generations']} generations), {info['simulations']:,} "
             f"simulations, {info['wall_s']:,.0f} s wall and {info['cpu_s']:,.0f} CPU s in the last session "
             f"({info['workers']} workers); effective sample size of the final weights {info['ess']:.0f}; "
             f"{info['draws']} equally weighted posterior draws (posterior.csv).", "",
             f"Posterior: **{info['settling']}** (rule: {info['settled_rule']}).", "",
             "Verdict: `within` when the published figure lies inside the predictive 95% interval widened by the "
             "target's tolerance on each side; `outside` otherwise.", "",
             "## Targets: the model against the published figures", ""]
    lines += _table(targets, ("id", "role", "figure", "tolerance", "prior_mean", "prior_low", "prior_high",
                              "posterior_mean", "posterior_low", "posterior_high", "prior_verdict",
                              "posterior_verdict"))
    lines += ["", "## Calibrated parameters (2.5%, 50%, 97.5% in the parameter's own units)", ""]
    lines += _table(params, PARAMETERS_COLUMNS)
    lines += ["", "![prior and posterior intervals of the calibrated parameters](figures/parameters.png)", "",
              "## Diagnostics per wave and generation", ""]
    lines += _table(diag, list(diag[0]) if diag else [])
    changes = info["quantile_change_last_two_generations"]
    lines += ["", "Each row of a final generation: `ess` of its own weights, `posterior_ess` of the final wave's "
              "generations pooled so far, and the largest change of a calibrated parameter's 2.5/50/97.5% points (on "
              "the prior's quantile scale) when it joined the generations before. The refocusing waves' own "
              "estimates of the posterior rest on an effective sample size of about ten, too few to judge settling "
              "by; their `non_implausible_share` shows whether the history matching had stopped refocusing.", "",
              "Largest change of each calibrated parameter's posterior quantiles when the last generation joined: "
              + (", ".join(f"{k} {v:.3f}" for k, v in changes.items()) if all(v is not None for v in changes.values())
                 else "none (one generation)") + ".", "",
              "## Prior and posterior predictive of each target", ""]
    lines += [f"![{t['id']}](figures/target_{t['id']}.png)" for t in targets]
    path = out / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


PARAMETERS_COLUMNS = ("parameter", "prior_low", "prior_median", "prior_high", "posterior_low", "posterior_median",
                      "posterior_high", "width_ratio")
