"""What a results folder was started with, and which process is writing it.

A folder that looks complete must be complete, and hold what the planner asked for:

- `manifest.json`, written before the first job, records the jobs (each one's overrides) and a hash of
  each job's resolved config. Counting what is done (`pathways-report`, the resume) compares against
  it, so a sweep killed after one job of three reads "1 of 3"; running into the folder again with other
  options, or after a config file changed, is refused naming the difference.
- `.lock` holds the pid of the process writing the folder, under an advisory lock (`flock`) that the
  system releases when the process ends, however it ends: a second live writer is refused, and a lock
  left by a dead process is simply taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SWEEP_MARK = "multirun.yaml"  # Hydra writes it at the top of every sweep folder
LOCK = ".lock"
# How a run is done, not what it computes (results are the same either way): free to change on resume.
RUN_ONLY = ("experiment.progress", "experiment.workers", "region.workforce.bau")
_HELD: dict[Path, int] = {}  # folder -> descriptor of its lock file, open for the life of this process


class FolderError(Exception):
    """A folder that cannot be written as asked (another config, other options, or another live writer)."""


@dataclass
class Plan:
    """What a command will run into `folder`: each job's overrides and resolved config (None if not composed)."""

    folder: Path
    kind: str  # run | sweep
    jobs: list[list[str]] = field(default_factory=list)
    configs: list[dict | None] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The manifest: kind, and each job's overrides and config hash."""
        hashes = [None if c is None else config_hash(c) for c in self.configs]
        return {"kind": self.kind, "jobs": [{"overrides": list(o), "config_sha256": h}
                                            for o, h in zip(self.jobs, hashes)],
                "config_sha256": hashlib.sha256(json.dumps(hashes).encode()).hexdigest()}


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _what(overrides: list[str]) -> tuple[str, ...]:
    """A job's overrides as a comparable set: order-free, without the keys that do not change results."""
    return tuple(sorted(o for o in overrides if _key(o) not in RUN_ONLY))


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def _compared(config: dict) -> dict[str, Any]:
    """A resolved config's keys and values that decide the results (RUN_ONLY left out)."""
    return {k: v for k, v in _flat(config).items() if not any(k == r or k.startswith(r + ".") for r in RUN_ONLY)}


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(_compared(config), sort_keys=True, default=str).encode()).hexdigest()


def read_yaml(path: Path) -> Any:
    """A results file's YAML (a job's config.yaml, Hydra's records), parsed by libyaml when PyYAML has it: a job's
    resolved config is some 40 kB, a quarter of a second for the pure-Python parser and a tenth of that for libyaml,
    which reads the same values."""
    import yaml

    return yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def planned_jobs(folder: Path) -> list[list[str]] | None:
    """The overrides of every job a sweep folder was started with (None: no manifest, or a single run)."""
    manifest = read_manifest(folder)
    if not manifest or manifest.get("kind") != "sweep":
        return None
    return [list(j["overrides"]) for j in manifest["jobs"]]


def _options(jobs: list[tuple[str, ...]], common: set[str]) -> str:
    return "; ".join(" ".join(o for o in job if o not in common) or "(no overrides)" for job in jobs)


def check_manifest(plan: Plan, manifest: dict[str, Any]) -> None:
    """FolderError naming the first difference between what the folder was started with and `plan`."""
    where = plan.folder
    if manifest.get("kind") != plan.kind:
        raise _other_kind(plan, str(manifest.get("kind")))
    old = [_what(j["overrides"]) for j in manifest["jobs"]]
    new = [_what(o) for o in plan.jobs]
    if old != new:
        common = set.intersection(*(set(j) for j in old + new)) if old and new else set()
        gone, added = [j for j in old if j not in new], [j for j in new if j not in old]
        diff = (f"in the folder only: {_options(gone, common) or '-'}; asked only now: {_options(added, common) or '-'}"
                if gone or added else "the same options in another order (job numbers would change)")
        raise FolderError(f"{where}: holds {len(old)} option{'s' if len(old) != 1 else ''} and this command asks "
                          f"for {len(new)}: {diff}; allowed: the same options to resume, or a new folder")
    for i, (job, config) in enumerate(zip(manifest["jobs"], plan.configs)):
        if config is None or job.get("config_sha256") in (None, config_hash(config)):
            continue
        folder = _job_folders(plan).get(i)
        diff = _difference(folder / "config.yaml", config) if folder else ""
        raise _another_config(plan, i, diff or " (a config file changed since the folder was started)")


def _other_kind(plan: Plan, kind: str) -> FolderError:
    return FolderError(f"{plan.folder}: holds a {kind}, this command is a {plan.kind}; allowed: the same command "
                       "to resume, or a new folder")


def _another_config(plan: Plan, number: int, difference: str) -> FolderError:
    return FolderError(f"{plan.folder}: job {number} ({' '.join(plan.jobs[number]) or 'no overrides'}) ran with "
                       f"another config{difference}; allowed: the same config to resume, or a new folder")


def check_begun(plan: Plan) -> None:
    """A folder without a manifest (written before there were any): the jobs it holds must be `plan`'s own,
    with the same overrides and config; FolderError naming the first that is not."""
    import yaml

    kind = "run" if (plan.folder / ".hydra").is_dir() else "sweep" if (plan.folder / SWEEP_MARK).exists() else None
    if kind not in (None, plan.kind):
        raise _other_kind(plan, kind)
    for i, folder in sorted(_job_folders(plan).items()):
        path = folder / ".hydra" / "overrides.yaml"
        old = _what(yaml.safe_load(path.read_text()) or []) if path.exists() else None
        if old is not None and (i >= len(plan.jobs) or old != _what(plan.jobs[i])):
            raise FolderError(f"{plan.folder}: holds job {i} ({' '.join(old) or 'no overrides'}), which this command "
                              "does not ask for; allowed: the same options to resume, or a new folder")
        config = plan.configs[i] if i < len(plan.configs) else None
        diff = _difference(folder / "config.yaml", config) if config is not None else ""
        if diff:
            raise _another_config(plan, i, diff)


def _job_folders(plan: Plan) -> dict[int, Path]:
    """The folders of the jobs begun in `plan.folder`, by job number."""
    if plan.kind == "run":
        return {0: plan.folder} if (plan.folder / ".hydra").is_dir() else {}
    return {int(d.name.split("-", 1)[0]): d for d in plan.folder.iterdir()
            if d.is_dir() and (d / ".hydra").is_dir() and d.name.split("-", 1)[0].isdigit()}


def _difference(path: Path, config: dict) -> str:
    """': KEY = OLD in the folder, NEW now' between a job's config.yaml and `config` ('' if none, or no file)."""
    import yaml

    if not path.exists():
        return ""
    old, new = _compared(yaml.safe_load(path.read_text()) or {}), _compared(config)
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not keys:
        return ""
    more = f" and {len(keys) - 1} more key{'s' if len(keys) > 2 else ''}" if len(keys) > 1 else ""
    return f": {keys[0]} = {old.get(keys[0])!r} in the folder, {new.get(keys[0])!r} now{more}"


def claim(plan: Plan) -> None:
    """Make `plan.folder` this process's: create it, lock it, and record or check its manifest.

    FolderError when another live process holds it or it holds other options or another config;
    OSError when it cannot be created or written (a read-only or full disk)."""
    from sim.experiment.replications import write_text

    plan.folder.mkdir(parents=True, exist_ok=True)
    lock(plan.folder)
    manifest = read_manifest(plan.folder)
    if manifest is None:
        check_begun(plan)
        write_text(plan.folder / MANIFEST, json.dumps(plan.record(), indent=2))
    else:
        check_manifest(plan, manifest)


def lock(folder: Path) -> None:
    """Hold `folder` for this process until it ends; FolderError naming the holder if a live process has it."""
    import fcntl

    folder = Path(folder).resolve()
    if folder in _HELD:
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 100).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise FolderError(f"{folder}: being written by process {holder} (its lock: {folder / LOCK}); allowed: wait "
                          "for it to finish, or another folder") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[folder] = fd
