"""What a fresh clone's set-up does: the package and its templates install without setuptools warnings
(`make run` once printed about 60 lines of them), and `make app` takes a port."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS_WARNINGS = ("Package would be ignored", "SetuptoolsWarning", "Editable installation",
                       "SetuptoolsDeprecationWarning")


@pytest.mark.unit
def test_every_template_file_is_package_data() -> None:
    """Each file beside the code that is not Python (the report's and the page's templates, CSS, JavaScript) is
    matched by a package-data pattern of its package, so an installed copy has it."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = tool["package-data"]
    assert tool["packages"]["find"]["include"] == ["sim*"] and tool["packages"]["find"]["namespaces"]
    others = [p for p in (ROOT / "sim").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".typed")
              and "__pycache__" not in p.parts]
    assert others, "no templates found: the test looks in the wrong place"
    for path in others:
        rel = path.relative_to(ROOT)
        owners = [pkg for pkg in data if rel.as_posix().startswith(pkg.replace(".", "/") + "/")]
        assert any(fnmatch.fnmatch(rel.relative_to(pkg.replace(".", "/")).as_posix(), pattern)
                   for pkg in owners for pattern in data[pkg]), f"{rel} is not package data"


@pytest.mark.system
def test_an_editable_install_prints_no_setuptools_warning(tmp_path: Path) -> None:
    """The install `make run` does (`pip install -e .`), built verbosely into a scratch virtual environment (pip
    would take the package out of this one first, even installing elsewhere with --prefix)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python"), "install",
                        "-v", "--no-deps", "--disable-pip-version-check", "-e", str(ROOT)],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    said = r.stdout + r.stderr
    found = [w for w in SETUPTOOLS_WARNINGS if w in said]
    assert not found, [ln for ln in said.splitlines() if any(w in ln for w in found)][:20]


@pytest.mark.system
def test_make_app_takes_a_port() -> None:
    def app_line(*args: str) -> str:
        # --no-print-directory: under `make test` (MAKEFLAGS from the outer make) make would add "Leaving directory"
        r = subprocess.run(["make", "--no-print-directory", "-n", "app", *args], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        return r.stdout.strip().splitlines()[-1]

    assert app_line("PORT=8123").endswith("pathways-app --port 8123")
    assert app_line().endswith("pathways-app --port 8050")
