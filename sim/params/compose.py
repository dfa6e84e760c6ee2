"""The root config composed from the shipped config tree with Hydra overrides: the one way the library (not the
`pathways` command, which is Hydra's own entry) composes a config, with the schema registered first.

Hydra takes a second or more to compose a config (most of it merging the structured schema), and the command,
its preflight, the page, the decision commands and the tests compose the same configs again and again. So a
composition is kept: in the process, and on disk between processes (`PATHWAYS_CACHE`, default
`~/.cache/pathways/compose`; empty: in the process only), keyed by everything it depends on: the overrides, the
config tree's and any `hydra.searchpath` folder's files with their sizes and modification times, the schema's
source, the versions of Hydra, OmegaConf and Python, and (with Hydra's own node) the working folder. A plain
`key=value` is applied to the kept composition of the other overrides as Hydra applies it (`_split`), so a new
value costs an update, not a composition."""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import os
import pickle
import platform
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict

from sim.params import schema
from sim.params.paths import CONFIG_DIR
from sim.params.schema import register


def compose_config(overrides: Sequence[str] = (), *, hydra_node: bool = False, config_dir: Path = CONFIG_DIR,
                   keep_inside_hydra: bool = False) -> DictConfig:
    """`config.yaml` with `overrides` (Hydra's syntax), as `hydra.compose` gives it: a kept composition's copy
    when there is one. Inside an initialised Hydra (a running job, a preflight) it composes there, and keeps the
    composition only with `keep_inside_hydra`: the caller knows that Hydra was initialised on `config_dir` and
    that `overrides` name every search-path folder it was given (a planner's own region folder)."""
    register()
    inside = GlobalHydra.instance().is_initialized()
    if inside and not keep_inside_hydra:
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
    if not hydra_node:
        files, values = _split(overrides, config_dir)
        if values:  # the files' composition is kept once; a new value costs an update, not a composition
            cfg = compose_config(files, config_dir=config_dir, keep_inside_hydra=keep_inside_hydra)
            try:
                for o in values:  # as Hydra applies a value override, after the defaults list is merged
                    OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
                return cfg
            except Exception:  # Hydra composes it and refuses it in its own words
                pass

    def fresh() -> DictConfig:
        if inside:
            return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)

    return _kept(overrides, hydra_node, config_dir, fresh)


def kept_compose(config_name: str, overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """Hydra's `compose` with its signature, kept: for the preflight, which initialises Hydra on the shipped
    tree and names any search path in `overrides`."""
    assert config_name == "config", config_name
    return compose_config(overrides, hydra_node=return_hydra_config, keep_inside_hydra=True)


def without_hydra(cfg: DictConfig, overrides: Sequence[str], config_dir: Path = CONFIG_DIR) -> DictConfig:
    """A copy of a composed config without Hydra's node. It stays typed on the schema (loading it then merges
    nothing: typing a plain copy again takes a second), unless an override added or deleted a key (`+key=value`,
    `~key`): Hydra lets those through, and typing the plain copy again is what refuses an unknown key (and gives a
    deleted one its schema default, as before). Adding or removing a config group's files (`+intervention=[x]`,
    as the preflight does for a sweep of sizes) changes the defaults list, not a key: Hydra merges those files
    on the schema, which refuses an unknown key there as for any group."""
    if any(_adds_or_deletes_a_key(o, config_dir) for o in overrides):
        plain = OmegaConf.to_container(cfg, resolve=False)
        assert isinstance(plain, dict)  # a DictConfig's container
        plain.pop("hydra", None)
        return OmegaConf.create(plain)
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.pop("hydra", None)
    return out


_COMPOSED: dict[str, bytes] = {}  # key -> pickled composition, in this process
_KEEP = 256  # compositions kept in the process (each some 100 KB); the oldest goes first
# compositions kept on disk (zlib, each some 12 KB), the least recently used going first: the fast tier alone
# composes over 300, and a store smaller than what one pass reads keeps none of them for the next pass
_KEEP_ON_DISK = 2048


def _kept(overrides: Sequence[str], hydra_node: bool, config_dir: Path,
          fresh: Callable[[], DictConfig]) -> DictConfig:
    """A copy of the kept composition for these arguments, composing (`fresh`) and keeping it when there is none."""
    key = _key(overrides, hydra_node, config_dir)
    kept = _COMPOSED.get(key)
    if kept is None:
        kept, cfg = _read(key)
        if cfg is None:
            cfg = fresh()
            kept = pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL)
            _write(key, kept)
        if len(_COMPOSED) >= _KEEP:
            _COMPOSED.pop(next(iter(_COMPOSED)))
        _COMPOSED[key] = kept
        return cfg  # composed or read just now: the caller's own already
    result: DictConfig = pickle.loads(kept)  # a copy: what the caller changes stays its own (faster than deepcopy)
    return result


def _key(overrides: Sequence[str], hydra_node: bool, config_dir: Path) -> str:
    folders = [str(config_dir)] + [p for o in overrides if o.startswith("hydra.searchpath=")
                                   for p in searchpath_folders(o)]
    parts = [list(overrides), hydra_node, [(f, _tree(Path(f))) for f in folders], _software(),
             os.getcwd() if hydra_node else ""]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@functools.cache
def _software() -> tuple[str, ...]:
    """What a composition depends on besides the files, fixed for the process: the schema's source and the
    versions of Hydra, OmegaConf and Python."""
    return (hashlib.sha256(Path(schema.__file__).read_bytes()).hexdigest(), version("hydra-core"),
            version("omegaconf"), platform.python_version())


def searchpath_folders(override: str) -> list[str]:
    """The folders of a `hydra.searchpath=[file://...,pkg://...]` override (absolute; a package as named)."""
    out = []
    for entry in override.split("=", 1)[1].strip("[]").split(","):
        entry = entry.strip().strip("'\"")
        out.append(os.path.abspath(entry[len("file://"):]) if entry.startswith("file://") else entry)
    return out


def _tree(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under `folder` (scenarios through their link included) with its size and modification time."""
    out = []
    for root, _dirs, files in os.walk(folder, followlinks=True):
        for name in files:
            path = os.path.join(root, name)
            st = os.stat(path)
            out.append((path, st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def _cache_dir() -> Path | None:
    where = os.environ.get("PATHWAYS_CACHE")
    if where == "":
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(where) if where else home / "pathways" / "compose"


def _read(key: str) -> tuple[bytes, DictConfig | None]:
    """The kept bytes and their composition; (b"", None) when none is kept or it cannot be read (a cut-off or
    foreign file: composed again and written over)."""
    folder = _cache_dir()
    if folder is None:
        return b"", None
    path = folder / f"{key}.pickle"
    try:
        data = zlib.decompress(path.read_bytes())
        cfg = pickle.loads(data)
        _touch(path)  # used now: the last to go
    except Exception:  # any unreadable file is only a miss
        return b"", None
    return (data, cfg) if isinstance(cfg, DictConfig) else (b"", None)


def _touch(path: Path) -> None:
    """Mark a kept file used now, from the nanosecond clock: the kernel stamps a write or a bare utime with a clock
    of a few milliseconds, so a file read just after another was written could look older than it."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _write(key: str, data: bytes) -> None:
    """Keep a composition on disk (atomically: a reader sees all of it or none; any failure leaves no trace:
    a cache that cannot be written is only slower)."""
    folder = _cache_dir()
    if folder is None:
        return
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(zlib.compress(data, 1))
        os.replace(tmp, folder / f"{key}.pickle")
        _touch(folder / f"{key}.pickle")
        kept = list(folder.glob("*.pickle"))
        if len(kept) > _KEEP_ON_DISK:
            for old in sorted(kept, key=lambda p: p.stat().st_mtime_ns)[:-_KEEP_ON_DISK]:
                old.unlink(missing_ok=True)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _split(overrides: Sequence[str], config_dir: Path) -> tuple[list[str], list[Override]]:
    """The overrides that choose files or change Hydra's node (a config group, `+`/`~`, `hydra.*`, a sweep) and
    the plain `key=value` changes of the config after them, which Hydra applies one by one to the merged config
    (`OmegaConf.update(cfg, key, value, merge=True)`, its ConfigLoaderImpl): applied so to a kept composition of
    the first, they give Hydra's config. Everything when an override does not parse (Hydra says why)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:  # one that does not parse: Hydra composes it and says why
        return list(overrides), []
    if any(o.is_hydra_override() for o in parsed):  # a search path may bring config groups of its own
        return list(overrides), []
    files, values = [], []
    for o, text in zip(parsed, overrides):
        key = o.key_or_group
        if (o.type == OverrideType.CHANGE and not o.is_sweep_override() and o.package is None
                and not (config_dir / key.replace(".", "/")).is_dir()):
            values.append(o)
        else:
            files.append(text)
    return files, values


def _adds_or_deletes_a_key(override: str, config_dir: Path) -> bool:
    """Whether `override` adds or deletes a key (`+a.b=1`, `~a.b`), rather than a config group's files
    (`+intervention=[x]`, `~intervention`: a folder of the config tree)."""
    if not override.startswith(("+", "~")):
        return False
    key = override.lstrip("+~").split("=", 1)[0]
    return "." in key or "@" in key or not (config_dir / key).is_dir()


def sweep_combos(overrides: list[Override]) -> list[list[str]]:
    """The overrides of every job a multirun over parsed `overrides` asks for (`scenario=a,b x=1,2`: four), in
    the order Hydra's basic sweeper runs them: the cross product, a later key written once overriding an earlier."""
    final: dict[str, list[str]] = {}
    for o in overrides:
        key = o.get_key_element()
        if not o.is_sweep_override():
            final[key] = [f"{key}={o.get_value_element_as_str()}"]
        elif o.is_discrete_sweep():
            final[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            raise ValueError(f"{key}: a {o.value_type.name if o.value_type else 'range'} sweep cannot be run "
                             "(allowed: a list of values, a,b,c, or range(...))")
    return [list(c) for c in itertools.product(*final.values())]
