"""How a command fails: one line on stderr naming what is wrong, exit 2 for bad input and 1 for the machine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn


class UsageError(Exception):
    """Bad input, told in one line (exit 2)."""


def fail(message: str) -> NoReturn:
    raise UsageError(message)


def _exit_usage(e: Exception, prog: str = "pathways") -> NoReturn:
    print(f"{prog}: error: {e}", file=sys.stderr)
    sys.exit(2)


def _exit_environment(e: OSError, prog: str = "pathways") -> NoReturn:
    """A folder that cannot be written (read-only, full, missing): one line, exit 1."""
    where = f"{e.filename}: " if e.filename else ""
    print(f"{prog}: error: {where}{e.strerror or e}; nothing was written there that looks complete",
          file=sys.stderr)
    sys.exit(1)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
