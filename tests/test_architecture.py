"""The package's layers: each imports only from the layers below it, with no cycles; the README names every one.

Layers, lowest first (README "The code"): params, model, experiment, analysis, outputs, interfaces. Every
import of a `sim` module is counted, at the top of a file or inside a function: a deferred import is
still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"
LAYERS = ("params", "model", "experiment", "analysis", "outputs", "interfaces")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The sim modules a file imports (absolute, or relative resolved against its package)."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("sim.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base == "sim" or base.startswith("sim."):
                subs = [f"{base}.{a.name}" for a in node.names]
                out |= {s for s in subs if _exists(s)} or {base}
    return out


def _exists(module: str) -> bool:
    p = ROOT.joinpath(*module.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def graph() -> dict[str, set[str]]:
    return {_module(p): {m for m in _imports(p) if m != _module(p)} for p in sorted(SIM.rglob("*.py"))}


def test_every_module_is_in_a_layer() -> None:
    loose = [m for m in graph() if _layer(m) is None and m not in ("sim", "sim.__main__")]
    assert not loose, f"modules outside the layers {LAYERS}: {loose}"


def test_layers_import_only_from_below() -> None:
    bad = [f"{m} ({LAYERS[_layer(m)]}) imports {d} ({LAYERS[_layer(d)]})"  # type: ignore[index]
           for m, deps in graph().items() for d in deps
           if _layer(m) is not None and _layer(d) is not None and _layer(d) > _layer(m)]  # type: ignore[operator]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    g = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(g.get(m, set())):
            if state.get(d) == 1:
                cycles.append(path[path.index(d):] + [d] if d in path else [m, d])
            elif d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_readme_names_every_folder_of_the_package() -> None:
    """The README's architecture paragraph names each folder of `sim/` (and no folder that is not there)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The code"):]
    section = section[: section.index("\n## ", 1)]
    named = set(re.findall(r"`sim/(\w+)/`", section))
    folders = {p.name for p in SIM.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert named == folders, (named, folders)
