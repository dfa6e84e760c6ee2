"""Plain labels for named things of the configs (interventions, channels, scenarios): the entry's own `label`,
else its name in words. The one fallback every table, chart, form and sentence uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def label_of(name: str, entry: Mapping[str, Any] | None = None) -> str:
    """`entry["label"]` when it has one, else `name` with its underscores as spaces."""
    label = (entry or {}).get("label")
    return str(label) if label else name.replace("_", " ")
