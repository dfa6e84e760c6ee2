"""The end of a sweep: compare the jobs, write the report, and say which jobs did not finish.

`SweepReport` is a Hydra callback (configured in configs/config.yaml) that runs on the
process that launched the multirun, whichever launcher ran the jobs; `pathways-report`
calls the same `finish_folder` on any finished or partial folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .compare import status_lines, write_comparison


def finish_folder(folder: Path) -> int:
    """Write comparison.csv and report.html for `folder`; print them and any failures. Returns an exit code."""
    from .report import headline_text, write_report

    jobs, rows = write_comparison(folder)
    report = write_report(folder)
    print(headline_text(rows))
    problems = status_lines(jobs)
    for line in problems:
        print(line, file=sys.stderr)
    done = sum(j.status == "done" for j in jobs)
    print(f"{done} of {len(jobs)} jobs complete; comparison: {folder / 'comparison.csv'}")
    print(f"report: {report}")
    return 1 if problems else 0


class SweepReport(Callback):
    """After a multirun: comparison.csv, report.html, and a non-zero exit if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        code = finish_folder(Path(config.hydra.sweep.dir))
        if code:
            sys.exit(code)
