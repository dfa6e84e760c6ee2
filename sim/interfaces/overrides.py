"""The web app's allow-list of overrides: model parameters only, checked before anything is composed.

The command line keeps Hydra's full power for the person at the keyboard; a web request does
not. An override from the page or the JSON API must be one of

- a choice of a config group the project ships (`scenario`, `region`, `pathway`, `experiment`:
  a file name under configs/; `intervention`: a list of such names), or a sweep of such choices;
- a key of the project's own schema (sim/params/config.py), e.g. `intervention.childcare.places`,

with a value that is a literal (number, text, true/false, null, or a list or mapping of those),
or a sweep of literals (`a,b`, `choice(...)`, `range(...)`) sized before it is expanded. So
everything under `hydra`, any `_target_`, any `${...}` interpolation or resolver, a package
(`@...`), a search path, a launcher and any key outside the schema is refused with one line
naming the override. Parsing is Hydra's own (`OverridesParser`), never a regular expression.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import is_dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, QuotedString, RangeSweep, ValueType

from sim.interfaces.errors import UsageError
from sim.interfaces.preflight import MAX_PREFLIGHT, available
from sim.params.errors import did_you_mean
from sim.params.schema import Config

GROUPS = ("scenario", "region", "pathway", "experiment", "intervention")  # config groups under configs/
MAX_OVERRIDES = 50  # overrides in one request
MAX_OVERRIDE_CHARS = 2_000  # characters in one override
# jobs in one sweep: every job is composed and checked before any starts (sim/interfaces/cli.py)
MAX_JOBS = MAX_PREFLIGHT
SHOWN_CHARS = 80  # an override quoted in a message is cut to this
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*\Z")  # a key of a mapping in the schema (an intervention's name, ...)
ALLOWED = ("allowed: model parameters only (scenario, region, pathway, experiment, intervention=[...] and keys "
           "of the schema, e.g. intervention.childcare.places=20) with literal values")


class OverrideError(UsageError):
    """An override the web app does not accept (HTTP 400)."""


def check_overrides(overrides: list[str]) -> list[str]:
    """The overrides unchanged if every one is a model parameter with literal values and the sweep they
    make is at most MAX_JOBS jobs; OverrideError naming the first that is not."""
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise OverrideError("overrides: must be a list of texts (KEY=VALUE)")
    if len(overrides) > MAX_OVERRIDES:
        raise OverrideError(f"overrides: {len(overrides)} given; allowed: at most {MAX_OVERRIDES}")
    parser = OverridesParser.create()
    jobs, widest = 1, (0, "")
    for text in overrides:
        size = _check(_parse(parser, text), text)
        widest = max(widest, (size, text))
        jobs *= size
        if jobs > MAX_JOBS:
            raise OverrideError(f"{_show(widest[1])}: makes a sweep of at least {jobs:,} jobs "
                                f"({_key(widest[1])} takes {widest[0]:,} values); allowed: at most {MAX_JOBS} jobs "
                                "in one run")
    return overrides


def _show(text: str) -> str:
    """An override quoted for a message as the command line quotes it, cut to SHOWN_CHARS."""
    return f"command-line override '{text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + '…'}'"


def _key(text: str) -> str:
    return text.split("=", 1)[0].lstrip("+~")


def _parse(parser: OverridesParser, text: str) -> Override:
    if len(text) > MAX_OVERRIDE_CHARS:
        raise OverrideError(f"{_show(text)}: {len(text):,} characters; allowed: at most {MAX_OVERRIDE_CHARS:,}")
    if text.startswith("-"):
        raise OverrideError(f"{_show(text)}: options are not allowed here; {ALLOWED}")
    try:
        return parser.parse_overrides([text])[0]
    except Exception as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip() and not ln.startswith(("Error parsing", "See https"))]
        raise OverrideError(f"{_show(text)}: {(lines or ['cannot be parsed'])[0]}; allowed: KEY=VALUE with a literal "
                            "value (quote text that has brackets or commas: 'a (b)')") from None


def _check(o: Override, text: str) -> int:
    """Refuse an override that is not a model parameter with literal values; return the jobs it makes."""
    key = o.key_or_group
    if key.split(".")[0].split("/")[0] == "hydra":
        raise OverrideError(f"{_show(text)}: Hydra settings are not accepted from the web app; {ALLOWED}")
    if o.package is not None:
        raise OverrideError(f"{_show(text)}: a package (@{o.package}) is not accepted; {ALLOWED}")
    if "_target_" in key.split(".") or "_target_" in _strings(o._value, keys=True):
        raise OverrideError(f"{_show(text)}: _target_ is not accepted (it would run code); {ALLOWED}")
    if any("${" in s for s in _strings(o._value)):
        raise OverrideError(f"{_show(text)}: interpolations and resolvers (${{...}}) are not accepted; "
                            f"{ALLOWED}")
    if key in GROUPS:
        _check_choices(key, o, text)
    elif _schema_type(key) is None:
        raise OverrideError(f"{_show(text)}: {key} is not a model parameter; {ALLOWED}")
    if o.is_delete():
        return 1
    return _size(o, text)


def _strings(value: Any, keys: bool = False) -> list[str]:
    """Every text inside a parsed value (the mappings' keys too when `keys`)."""
    if isinstance(value, QuotedString):
        return [value.text]
    if isinstance(value, str):
        return [value]
    if isinstance(value, ChoiceSweep):
        return _strings(value.list, keys)
    if isinstance(value, dict):
        return [*(k for k in value if keys and isinstance(k, str)), *_strings(list(value.values()), keys)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, keys)]
    return []


def _check_choices(group: str, o: Override, text: str) -> None:
    """A group's choice must name files the project ships: one name, or for `intervention` a list of names."""
    if o.is_delete() and o._value is None:
        return
    value = o._value
    choices = value.list if isinstance(value, ChoiceSweep) else [value]
    if not isinstance(value, (ChoiceSweep, str, list, QuotedString)):
        raise OverrideError(f"{_show(text)}: {group} takes the name of a file in configs/{group}/; "
                            f"allowed: {', '.join(available(group))}")
    names = available(group)
    for choice in choices:
        chosen = choice if group == "intervention" and isinstance(choice, list) else [choice]
        if group != "intervention" and isinstance(choice, list):
            raise OverrideError(f"{_show(text)}: {group} takes one name; allowed: {', '.join(names)}")
        for name in chosen:
            name = name.text if isinstance(name, QuotedString) else name
            if name not in names:
                raise OverrideError(f"{_show(text)}: unknown {group} '{name}'{did_you_mean(str(name), names)}; "
                                    f"allowed: {', '.join(names)}")


def _schema_type(key: str) -> Any:
    """The schema type at a dotted key of the project's config (sim/params/config.py), or None if it has none."""
    t: Any = Config
    for part in key.split("."):
        t = _unwrap(t)
        if is_dataclass(t):
            hints = typing.get_type_hints(t)
            if part not in hints:
                return None
            t = hints[part]
        elif typing.get_origin(t) is dict and _NAME.match(part):
            t = typing.get_args(t)[1]
        elif typing.get_origin(t) is list and part.isdigit():  # an item of a list (an intervention's changes.0)
            t = typing.get_args(t)[0]
        else:
            return None
    return t


def _unwrap(t: Any) -> Any:
    """`X | None` as X."""
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if typing.get_origin(t) in (typing.Union, types.UnionType) and len(args) == 1 else t


def _size(o: Override, text: str) -> int:
    """The number of values a sweep override takes, computed without expanding it."""
    value = o._value
    if o.value_type in (ValueType.ELEMENT, None):
        return 1
    if isinstance(value, ChoiceSweep):
        return len(value.list)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        assert start is not None and stop is not None  # Hydra's range() sets both (a lone bound is the stop)
        if not step or any(isinstance(x, float) and not math.isfinite(x) for x in (start, stop, step)):
            raise OverrideError(f"{_show(text)}: a range needs finite bounds and a non-zero step")
        return max(0, math.ceil((stop - start) / step))
    raise OverrideError(f"{_show(text)}: {o.value_type.name.lower()} is not accepted; allowed: a literal "
                        "value, a comma list, choice(...) or range(...)")
