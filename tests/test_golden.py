"""Golden backtest: a small fixed run must reproduce its recorded outputs exactly.

Three options (the baseline, West Norfolk's local plan, the manager succession programme) on the quick
experiment, two replications each, every KPI row, every funnel row and every capacity row, with BAU
recruitment calibrated on the region's baseline as the command line does. Any change to what the model
computes fails it; a deliberate change regenerates the file and says why in its commit:

    python tests/test_golden.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import make_params

from sim.model import simulate
from sim.model.workforce import calibrate

pytestmark = pytest.mark.model

GOLDEN = Path(__file__).resolve().parent / "golden" / "quick.json"
OPTIONS = ("baseline", "west_norfolk_local_plan", "skills_plan_manager_succession")
REPLICATIONS = 2


def outputs() -> dict[str, Any]:
    """Every row the fixed run reports, as JSON-ready lists (floats kept exactly by their repr)."""
    bau = calibrate(make_params("experiment=quick").config.region.workforce)
    result: dict[str, Any] = {}
    for option in OPTIONS:
        params = make_params("experiment=quick", f"scenario={option}")
        params.config.region.workforce.bau = bau
        for rep in range(REPLICATIONS):
            out = simulate(params, rep)
            result[f"{option}/{rep}"] = {
                "kpis": [[k, g, repr(float(v))] for k, g, v in out.kpis],
                "funnel": [{k: _plain(v) for k, v in row.items()} for row in out.funnel],
                "capacities": [{k: _plain(v) for k, v in row.items()} for row in out.capacities],
            }
    return result


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, float):
        return repr(v)
    return v


def test_the_fixed_run_reproduces_its_golden_file() -> None:
    want = json.loads(GOLDEN.read_text())
    got = json.loads(json.dumps(outputs()))
    assert got.keys() == want.keys()
    for key in want:
        for part in ("kpis", "funnel", "capacities"):
            diff = [(w, g) for w, g in zip(want[key][part], got[key][part]) if w != g]
            assert len(want[key][part]) == len(got[key][part]) and not diff, (key, part, diff[:3])


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/test_golden.py --regenerate")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(outputs(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
