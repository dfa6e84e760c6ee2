"""`pathways-region`: a planner's own area from a spreadsheet.

`pathways-region template FILE.xlsx` writes the workbook to fill in (the default region's numbers and their
sources); `pathways-region new NAME --from FILE.xlsx` checks every cell and writes `configs/region/NAME.yaml`, or
lists every bad cell, one a line, and writes nothing (exit 2).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tempfile
from pathlib import Path

from sim.interfaces.errors import UsageError, _display, _exit_environment, _exit_usage
from sim.params.paths import CONFIG_DIR
from sim.params.regionfile import region_path, write_region

PROG = "pathways-region"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("template", help="write the workbook to fill in, pre-filled with the default region")
    t.add_argument("file", type=Path, help="the workbook to write (.xlsx); an existing file is not overwritten")
    n = sub.add_parser("new", help="check a filled-in workbook and write configs/region/NAME.yaml from it")
    n.add_argument("name", help="the new region's name: lower case letters, digits and _ (region=NAME runs it)")
    n.add_argument("--from", dest="file", type=Path, required=True, help="the filled-in workbook (.xlsx)")
    n.add_argument("--configs", type=Path, default=CONFIG_DIR,
                   help="the config folder to write region/NAME.yaml into (default: the project's configs/)")
    return ap


def template(file: Path) -> Path:
    from sim.outputs.regionbook import write_template

    if file.suffix.lower() != ".xlsx":
        raise UsageError(f"{file}: allowed: a file name ending .xlsx")
    if file.exists():
        raise UsageError(f"{file}: exists; allowed: a new file name (a filled-in workbook is never overwritten)")
    return write_template(file)


def check(name: str, file: Path, configs: Path, shown: str | None = None) -> str:
    """The new region's YAML from a filled-in workbook; UsageError with every problem, one a line (the workbook
    named as `shown`, default its path)."""
    from sim.outputs.regionbook import read_workbook, region_text

    if not NAME.match(name[:80]):
        raise UsageError(f"region name {name[:80]!r}: allowed: lower case letters, digits and _, starting with a "
                         "letter, at most 60 characters")
    for target in (region_path(name, configs), region_path(name, CONFIG_DIR)):  # never over a shipped region
        if target.exists():
            raise UsageError(f"region {name!r} exists ({_display(target)}); allowed: a new name")
    if not file.is_file() or file.suffix.lower() != ".xlsx":
        raise UsageError(f"--from {file}: allowed: a workbook (.xlsx) written by {PROG} template and filled in")
    read = read_workbook(file)
    if read.errors:
        count = f"{len(read.errors)} problem{'s' if len(read.errors) > 1 else ''}"
        raise UsageError("\n".join([f"{shown or file}: {count}, nothing written:", *read.errors]))
    text = region_text(read, name, file.name, datetime.date.today().isoformat())
    _validate(text, file.name)
    return text


XLSX_START = b"PK\x03\x04"  # an .xlsx is a zip archive


def from_upload(name: str, data: bytes, configs: Path) -> Path:
    """A region from a workbook uploaded on the page: its bytes written to a temporary folder of this process's own
    as NAME.xlsx (no name or path from the client), then the checks of `new` (openpyxl opens it; every bad cell
    listed), and `configs/region/NAME.yaml` written only for a new name. UsageError with every problem otherwise."""
    if not NAME.match(name[:80]):
        check(name, Path(), configs)  # the name's own message
    if not data.startswith(XLSX_START):
        raise UsageError("the uploaded file is not an .xlsx workbook; allowed: a copy of the template written by "
                         f"{PROG} template, filled in and saved as .xlsx")
    with tempfile.TemporaryDirectory(prefix="pathways-upload-") as folder:
        book = Path(folder) / f"{name}.xlsx"
        book.write_bytes(data)
        text = check(name, book, configs, shown=f"the uploaded workbook ({book.name})")
    return write_region(region_path(name, configs), text)


def _validate(text: str, workbook: str) -> None:
    """The whole config with this region, through the model's own checks (cross-field rules)."""
    import yaml
    from omegaconf import OmegaConf

    from sim.params.compose import compose_config
    from sim.params.config import load
    from sim.params.errors import ConfigError

    plain = OmegaConf.to_container(compose_config(["scenario=baseline", "intervention=[]"]))
    assert isinstance(plain, dict)  # a DictConfig's container
    plain["region"] = yaml.safe_load(text)
    try:
        load(plain)
    except ConfigError as e:
        e.source = f"{workbook} (as a region)"
        raise UsageError(e.message()) from None


def run_command(name: str, configs: Path) -> str:
    """The command that runs the region just written (a config folder of one's own joins Hydra's search path)."""
    if configs.resolve() == CONFIG_DIR.resolve():
        return f"pathways region={name}"
    return f"pathways region={name} 'hydra.searchpath=[file://{configs.resolve()}]'"


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command == "template":
            print(f"wrote {_display(template(args.file))}: fill it in, then {PROG} new NAME --from {args.file}")
            return
        text = check(args.name, args.file, args.configs)
        path = write_region(region_path(args.name, args.configs), text)
    except UsageError as e:
        _exit_usage(e, PROG)
    except OSError as e:
        _exit_environment(e, PROG)
    print(f"wrote {_display(path)}; run it with: {run_command(args.name, args.configs)}")


if __name__ == "__main__":
    main(sys.argv[1:])
