"""A bad config value told in one line: the key, the value, the allowed range and the file; OmegaConf's own
messages translated into the same form."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

from sim.params.schema import Config

# ----------------------------------------------------------------------------- errors
UNKNOWN = "(unknown key)"


class ConfigError(Exception):
    """An invalid config value: names the key, the value and the allowed range."""

    def __init__(self, key: str, value: Any, allowed: str, source: str | None = None):
        self.key, self.value, self.allowed, self.source = key, value, allowed, source
        super().__init__(self.message())

    def message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if self.value is UNKNOWN:
            return f"{where}{self.key}: unknown key; allowed keys of {self.allowed}"
        return f"{where}{self.key} = {self.value!r}: allowed: {self.allowed}"


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the option closest to a mistyped `name`, or '' when none is close."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def config_error(key: str, text: str, source: str | None = None) -> ConfigError:
    """A ConfigError for `key` from an OmegaConf or Hydra message: an unknown key or a value of the wrong type."""
    if re.search(r"Key '[^']+' not in|is not in struct|Could not override", text):
        parent = _schema_at(key.rsplit(".", 1)[0] if "." in key else "")
        siblings = [f.name for f in fields(parent)] if is_dataclass(parent) else []
        return ConfigError(key, UNKNOWN, parent_keys(key) + did_you_mean(key.rsplit(".", 1)[-1], siblings), source)
    value = re.search(r"Value '([^']*)'", text)
    return ConfigError(key, value.group(1) if value else "?", type_hint(text), source)


def _schema_at(path: str) -> Any:
    """The schema type at a config path (a dataclass, or a dict's value type), or None."""
    import typing

    t: Any = Config
    for part in [p for p in path.split(".") if p]:
        if is_dataclass(t):
            hints = typing.get_type_hints(t)
            if part not in hints:
                return None
            t = hints[part]
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        else:
            return None
    return t


def field_at(key: str) -> tuple[Any, dict] | None:
    """The schema's type and metadata (the allowed range) of a config key that is a field of a dataclass, or None
    (a key the schema does not know, or one inside a list)."""
    import typing

    parent, _, name = key.rpartition(".")
    t = _schema_at(parent)
    if not is_dataclass(t):
        return None
    found = [f for f in fields(t) if f.name == name]
    return (typing.get_type_hints(t)[name], dict(found[0].metadata)) if found else None


def parent_keys(key: str) -> str:
    """The keys allowed beside `key` (for an unknown-key message)."""
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    t = _schema_at(parent)
    if is_dataclass(t):
        return f"{parent or 'the config'}: " + ", ".join(f.name for f in fields(t))
    return parent or "the config"


def type_hint(msg: str) -> str:
    """What a value of the wrong type should have been, from the error text."""
    for t, hint in (("Integer", "an integer"), ("int", "an integer"), ("Float", "a number"), ("float", "a number"),
                    ("Boolean", "true or false"), ("bool", "true or false"), ("String", "text")):
        if t in msg:
            return hint
    return " ".join(msg.split())
