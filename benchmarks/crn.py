"""How well options are paired (common random numbers), person by person and over replications.

Prints one JSON line per figure:
  outreach_spare_capacity  share of reference residents with the same outcome when outreach is added and
                           every capacity is 1,000 (none binds; only posts are shared)
  mentoring                same-post starters who stayed their first year in the reference and left early
                           under mentoring (must be 0), of how many
  rate_change_day_365      Jobcentre referrals before day 365 that are the same person at the same instant
                           when its rate doubles from day 365, of how many
  variance_ratio           Var(option - baseline) / (Var option + Var baseline) over replications, per KPI,
                           for West Norfolk's plan and for interview coaching (no extra residents)
Residents are traced by (channel, arrival index) (tests/tracing.py). Run from the repository root:
  PYTHONPATH=$PWD python benchmarks/crn.py [--replications 20]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import make_params
from tracing import same_share, trace, turned_leavers

from sim.experiment.replications import run_replications
from sim.experiment.stats import variance_ratio

SPARE = ["pathway.engagement.advisers=1000", "pathway.recruitment.interview_slots=1000"]
KPIS = (("hires", "all"), ("net_sustained_12m", "all"), ("vacancy_days", "all"))


def spare_capacity() -> list[str]:
    pw = make_params().config.pathway
    return [*SPARE, *(f"pathway.support.{n}.places=1000" for n in pw.support),
            *(f"pathway.training.courses.{n}.places_per_cohort=1000" for n in pw.training.courses)]


def outreach() -> dict:
    caps = spare_capacity()
    ref, _ = trace(make_params(*caps))
    opt, _ = trace(make_params(*caps, "intervention=[outreach]"))
    same, n = same_share(ref, opt)
    timed, _ = same_share(ref, opt, "path")
    return {"figure": "outreach_spare_capacity", "same_outcome": same, "same_path_and_times": timed,
            "reference_residents": n, "share": same / n}


def mentoring() -> dict:
    ref, _ = trace(make_params())
    opt, _ = trace(make_params("intervention=[mentoring]"))
    turned, stayers = turned_leavers(ref, opt)
    return {"figure": "mentoring", "stayers_turned_leavers": turned, "same_post_stayers": stayers}


def rate_change() -> dict:
    base = ("experiment.horizon_days=730",)
    from omegaconf import open_dict

    from sim.params.compose import compose_config
    from sim.params.config import load
    from sim.params.schema import Change, Intervention

    cfg = compose_config(base)
    with open_dict(cfg):
        cfg.intervention["double_jobcentre"] = Intervention(
            start_day=365, changes=[Change("region.channels.jobcentre.referrals_per_year", "scale", 2.0)])
    ref, _ = trace(make_params(*base))
    opt, _ = trace(load(cfg))
    before = {k: r.t_arrive for k, r in ref.items() if k[0] == "jobcentre" and r.t_arrive < 365}
    same = sum(1 for k, t in before.items() if k in opt and opt[k].t_arrive == t)
    return {"figure": "rate_change_day_365", "same_referrals_before_365": same, "reference_referrals": len(before)}


def ratios(option: list[str], replications: int, workers: int) -> dict:
    ref = run_replications(make_params("scenario=baseline"), range(replications), workers)
    opt = run_replications(make_params(*option), range(replications), workers)

    def values(outs, key):
        return [next(v for k, g, v in o.kpis if (k, g) == key) for o in outs]

    return {f"{k}": variance_ratio(values(opt, (k, g)), values(ref, (k, g))) for k, g in KPIS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    for fig in (outreach, mentoring, rate_change):
        print(json.dumps(fig()), flush=True)
    for name, option in (("west_norfolk_local_plan", ["scenario=west_norfolk_local_plan"]),
                         ("interview_coaching", ["scenario=baseline", "intervention=[interview_coaching]"])):
        print(json.dumps({"figure": "variance_ratio", "option": name, "replications": args.replications,
                          **ratios(option, args.replications, args.workers)}), flush=True)


if __name__ == "__main__":
    main()
