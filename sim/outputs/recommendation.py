"""The recommendation in plain words: the same few sentences open the report, the console summary, the page and
the workbook's first sheet. Numbers come from `uncertainty/recommendation.json` (`sim.analysis.recommend`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sim.outputs.formatting import estimate, number

FOLDER, FILE = "uncertainty", "recommendation.json"  # where sim.analysis.probabilistic writes it in a sweep


@dataclass(frozen=True)
class Effect:
    """How an effect is said: its heading, its unit (one, many) and what the willingness to pay stands for."""

    heading: str
    one: str
    many: str
    value_of: str


EFFECTS = {
    "sustained_job": Effect("Residents into work", "net sustained job", "net sustained jobs",
                            "the public purse's gain from a year off benefits"),
    "vacancy_year": Effect("Staffing", "vacancy-year avoided", "vacancy-years avoided",
                           "what covering a vacant post for a year costs an employer"),
}


def display(name: str) -> str:
    """An option's label as a sentence names it (its first letter a capital)."""
    return name[:1].upper() + name[1:]


def read(folder: Path) -> dict | None:
    """A sweep's recommendation, or None when it ran at the files' values only."""
    path = Path(folder) / FOLDER / FILE
    return json.loads(path.read_text()) if path.exists() else None


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _money(x: float) -> str:
    return number(x, "gbpk")


def effect_sentences(rec: dict, labels: dict[str, str]) -> list[str]:
    """One effect's recommendation: what to fund, how sure, what it buys, what it turns on, whether it holds."""
    e = EFFECTS[rec["effect"]]
    name = labels.get(rec["fund"], display(rec["fund"]))
    ref, sets, p = rec["reference"], rec["sets"], rec["p_best"]
    at = f"Valuing a {e.one} at {_money(rec['wtp'])} ({e.value_of})"
    if rec["fund"] == ref:
        other = rec["runner_up"]
        words = [f"{e.heading}: fund none of the options on this effect alone. {at}, no option is expected to "
                 f"be worth its cost: funding nothing is the best use of the money in {_pct(p[ref])} of the {sets} "
                 f"parameter sets, {labels.get(other, display(other))} in {_pct(p[other])} (expected net value "
                 f"{_money(rec['expected_nmb'][other])})."]
    else:
        gain, cost = rec["gain"], rec["cost"]
        words = [f"{e.heading}: fund {name}. {at}, it is the best use of the money in {_pct(p[rec['fund']])} of "
                 f"the {sets} parameter sets, funding nothing in {_pct(p[ref])}. It is expected to give "
                 f"{estimate(gain['mean'], gain['low'], gain['high'], 'count', True)} {e.many} for "
                 f"{estimate(cost['mean'], cost['low'], cost['high'], 'gbpk')} (95% of the parameter sets "
                 f"within the brackets)."]
        likelier = max(p, key=lambda o: p[o])
        if p[likelier] > p[rec["fund"]]:  # chosen on the expected value, yet not the likeliest best buy
            other = "funding nothing" if likelier == ref else labels.get(likelier, display(likelier))
            words.append(f"It is chosen on its expected net value ({_money(rec['expected_nmb'][rec['fund']])} against "
                         f"{_money(rec['expected_nmb'][likelier])} for {other}), though {other} is the best buy in "
                         f"more of the sets: what it gains where it works outweighs what it loses where it does not.")
    everything = f"{_money(rec['evpi'])} ± {_money(rec['evpi_se'])}"
    if rec["drivers"]:
        named = "; ".join(f"{labels.get(k, k)} ({_money(v)} ± {_money(se)})" for k, v, se in rec["drivers"])
        sure = any(v > 2 * se for _, v, se in rec["drivers"])
        rough = any(v > rec["evpi"] for _, v, _ in rec["drivers"])  # the estimates overfit: EVPPI <= EVPI in truth
        words.append(f"It turns most on: {named}, what knowing each exactly would be worth (± a standard error); "
                     f"knowing every uncertain number, {everything}."
                     + (f" With {sets} sets none of these is told apart from zero: read them as a ranking, and ask "
                        "for more sets (experiment.sets) to price the evidence." if not sure else
                        f" With {sets} sets these values are rough (one exceeds the value of knowing everything, "
                        "which it cannot): read them as a ranking." if rough else ""))
    else:
        words.append(f"Knowing any uncertain number better would hardly change this choice (knowing every one: "
                     f"{everything}).")
    lo, hi = rec["wtp_range"]
    at_lo, at_hi = (labels.get(x, display(x)) if x != ref else "nothing" for x in rec["fund_at_range"])
    if at_lo == at_hi:
        words.append(f"The choice is the same from {_money(lo)} to {_money(hi)} a {e.one}.")
    else:
        words.append(f"The choice depends on that value: at {_money(lo)} a {e.one}, fund {at_lo}; at "
                     f"{_money(hi)}, {at_hi}.")
    return words


def trade_off(recs: list[dict], labels: dict[str, str]) -> str:
    """A sentence when the effects favour different options (empty when they agree)."""
    funds = {r["effect"]: r["fund"] for r in recs}
    if len(set(funds.values())) <= 1:
        return ""
    ref = recs[0]["reference"]
    parts = [f"{'nothing' if f == ref else labels.get(f, display(f))} for {EFFECTS[k].heading.lower()}"
             for k, f in funds.items()]
    return (f"The two effects point to different choices: {' and '.join(parts)}. A programme buys both at once, "
            f"so weigh them together: the table below gives each option's expected gain on each and its cost.")


def sentences(data: dict | None, labels: dict[str, str] | None = None) -> list[str]:
    """Every sentence of the recommendation, in order (none without parameter sets); parameters by their labels."""
    if not data:
        return []
    labels = {**data.get("labels", {}), **(labels or {})}
    recs = data["recommendations"]
    out = [s for r in recs for s in effect_sentences(r, labels)]
    tail = trade_off(recs, labels)
    return [*out, tail] if tail else out
