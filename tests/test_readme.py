"""Every command in a block of README.md runs as written (on experiment=quick with a short warm-up and no
follow-up, one replication unless the command sets them, into a temporary folder)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import run_cli

README = Path(__file__).resolve().parent.parent / "README.md"
COMMAND = re.compile(r"^    (pathways(?:-[a-z]+)? .*)$", re.M)  # an indented block line that starts with a command


def commands() -> list[str]:
    return [m.group(1) for m in COMMAND.finditer(README.read_text())]


@pytest.mark.unit
def test_readme_has_commands() -> None:
    found = commands()
    assert len(found) >= 8 and any(c.startswith("pathways -m ") for c in found), found


@pytest.mark.parametrize("command", commands())
@pytest.mark.system
def test_readme_command_runs(command: str, tmp_path: Path) -> None:
    tool, *args = shlex.split(command, comments=True)
    if tool == "pathways":
        where = "hydra.sweep.dir" if "-m" in args else "hydra.run.dir"
        # the suite's time budget: a short warm-up, no follow-up, one replication unless the command sets them
        args += ["experiment=quick", "experiment.warmup_days=30", "experiment.followup_days=0",
                 f"{where}={tmp_path / 'out'}"]
        if not any(a.startswith("experiment.replications=") for a in args):
            args.append("experiment.replications=1")
    elif tool == "pathways-verify" and args[0] == "littles-law":
        args += ["experiment=quick"]
    r = run_cli(*args, tool=tool, cwd=tmp_path)
    assert r.returncode == 0, f"{command}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    if tool == "pathways":
        assert (tmp_path / "out" / "report.html").exists()
