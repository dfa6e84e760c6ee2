"""How long a typo costs: `pathways` with a bad value, from start to its one-line error (run with `make bench`).

Prints one JSON line per case, each the median of 7 runs (wall seconds of a fresh process):
  import_cli        python -c "import sim.interfaces.cli" (what every command pays)
  validation_error  pathways pathway.recruitment.shortlisting=1.5 (compose, validate, exit 2)
Target: a validation error within 1 s (issue 13).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CASES = {
    "import_cli": [sys.executable, "-c", "import sim.interfaces.cli"],
    "validation_error": [str(BIN / "pathways"), "pathway.recruitment.shortlisting=1.5"],
}


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    for name, command in CASES.items():
        runs = [wall(command) for _ in range(7)]
        print(json.dumps({"case": name, "median_s": round(statistics.median(runs), 3),
                          "min_s": round(min(runs), 3), "max_s": round(max(runs), 3)}))


if __name__ == "__main__":
    main()
