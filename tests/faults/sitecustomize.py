"""A disk that fails on purpose, for the fault tests: with PATHWAYS_FAULT="ERRNO:GLOB" in the environment,
creating a folder or opening a file for writing at a path matching GLOB raises OSError(ERRNO) (28: the disk
is full, 30: a read-only file system) in this process, whichever code writes: ours, Hydra's or openpyxl's."""

from __future__ import annotations

import builtins
import fnmatch
import io
import os

_fault = os.environ.get("PATHWAYS_FAULT", "")
if _fault:
    _code, _pattern = _fault.split(":", 1)
    _errno = int(_code)
    _open, _os_open, _mkdir = builtins.open, os.open, os.mkdir

    def _check(path: object) -> None:
        p = os.path.abspath(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else ""
        if p and fnmatch.fnmatch(p, _pattern):
            raise OSError(_errno, os.strerror(_errno), p)

    def _faulty_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            _check(file)
        return _open(file, mode, *args, **kwargs)

    def _faulty_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            _check(path)
        return _os_open(path, flags, *args, **kwargs)

    def _faulty_mkdir(path, *args, **kwargs):
        _check(path)
        return _mkdir(path, *args, **kwargs)

    builtins.open = io.open = _faulty_open
    os.open, os.mkdir = _faulty_os_open, _faulty_mkdir
