"""Bad configuration is refused before any simulation: exit 2 and one line naming source, key, value, range."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import make_params, run_cli

from sim.interfaces.preflight import composition_message
from sim.params.config import load
from sim.params.errors import UNKNOWN, ConfigError
from sim.params.paths import CONFIG_DIR

CARE = "pathway.training.courses.care_preemployment"


# (id, extra overrides before the bad one, the bad override, key, value as printed, a piece of the allowed range)
# Each CLI run costs ~2 s (mostly imports), so the CLI gets one case per kind of mistake and the
# library API (`make_params`, in-process) gets the rest.
CLI_CASES: list[tuple[str, tuple[str, ...], str, str, str, str]] = [
    ("unknown-key", (), "region.foo=1", "region.foo", "1", "allowed keys of region: name, label"),
    ("unknown-nested-key", (), "+region.channels.jobcentre.bogus=2", "region.channels.jobcentre.bogus", "2",
     "allowed keys of region.channels.jobcentre: label, referrals_per_year"),
    ("wrong-type-int", (), "experiment.replications=abc", "experiment.replications", "'abc'", "an integer"),
    ("wrong-type-bool", (), "experiment.progress=maybe", "experiment.progress", "maybe", "true or false"),
    ("negative-capacity", (), "pathway.support.childcare.places=-3", "pathway.support.childcare.places", "-3",
     "a finite number >= 0"),
    ("probability-above-1", (), "pathway.recruitment.shortlisting=1.5", "pathway.recruitment.shortlisting", "1.5",
     "[0, 1]"),
    ("dist-negative-cv", (), "pathway.recruitment.checks.cv=-1", "pathway.recruitment.checks.cv", "-1",
     "a finite number > 0"),
    ("dist-unknown-kind", (), "pathway.recruitment.checks.kind=triangle", "pathway.recruitment.checks.kind",
     "'triangle'", "one of fixed, exponential, gamma, lognormal, triangular, uniform, empirical"),
    ("period-outside-horizon", ("intervention=[childcare]",), "intervention.childcare.end_day=99999",
     "intervention.childcare.end_day", "99999", "horizon_days=730"),
    ("course-qualifies-for-nothing", (), f"{CARE}.qualifies_for=[]", f"{CARE}.qualifies_for", "[]",
     "at least one role: care_worker"),
    ("course-unknown-role", (), f"{CARE}.qualifies_for=[astronaut]", f"{CARE}.qualifies_for", "'astronaut'",
     "a role: care_worker"),
    ("serves-at-a-stage-without-places", ("intervention=[intensive_support]",),
     "intervention.intensive_support.serves.stage=training", "intervention.intensive_support.serves.stage",
     "'training'", "a stage with places of its own: engagement, childcare"),
    ("shares-not-summing-to-1", (), "region.channels.jobcentre.profile.deprivation_quintile=[0.5,0.5,0.5,0,0]",
     "region.channels.jobcentre.profile.deprivation_quintile", "[0.5, 0.5, 0.5, 0.0, 0.0]",
     "5 shares, each in [0, 1], summing to 1"),
]
# Range, reference and period problems the library API must also catch (checked in-process only).
LIBRARY_ONLY: list[tuple[str, tuple[str, ...], str, str, str, str]] = [
    ("probability-nan", (), "pathway.recruitment.shortlisting=nan", "pathway.recruitment.shortlisting", "nan",
     "[0, 1]"),
    ("integer-below-range", (), "pathway.job_search.max_applications=0", "pathway.job_search.max_applications", "0",
     "[1, 100]"),
    ("dist-mode-outside", (), "pathway.recruitment.checks={kind:triangular,low:5,mode:1,high:10}",
     "pathway.recruitment.checks.mode", "1", "low (5.0) <= mode <= high (10.0)"),
    ("warmup-too-long", (), "experiment.warmup_days=40000", "experiment.warmup_days", "40000", "[0, 36525]"),
    ("schedule-outside-horizon", (), "pathway.engagement.schedule=[{day:99999,places:3}]",
     "pathway.engagement.schedule.0.day", "99999", "horizon_days=730"),
    ("role-promoted-from-unknown", (), "region.workforce.roles.care_worker.promoted_from=pilot",
     "region.workforce.roles.care_worker.promoted_from", "'pilot'", "a role: care_worker"),
    ("intervention-starts-after-horizon", ("intervention=[childcare]",), "intervention.childcare.start_day=800",
     "intervention.childcare.start_day", "800", "[0, horizon_days=730]"),
]


def check_refused(p: subprocess.CompletedProcess, key: str, value: str, allowed: str, source: str) -> str:
    """Assert the CLI's refusal follows the contract; return the message."""
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{p.stderr}"
    msg = lines[0]
    assert msg.startswith("pathways: error: ")
    assert source in msg, msg
    assert key in msg, msg
    assert value in msg, msg
    assert allowed in msg, msg
    return msg


def no_results(root: Path) -> None:
    """Nothing was simulated: no results tables anywhere under `root`."""
    assert not list(root.rglob("kpis.csv"))
    assert not list(root.rglob("summary.csv"))


@pytest.mark.parametrize(("extra", "bad", "key", "value", "allowed"), [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
@pytest.mark.system
def test_cli_refuses_bad_override(tmp_path: Path, extra: tuple[str, ...], bad: str, key: str, value: str,
                                  allowed: str) -> None:
    """A bad command-line value stops `pathways` with exit 2 and one line naming the override, key, value and range."""
    p = run_cli("experiment=quick", *extra, bad, f"hydra.run.dir={tmp_path}/r")
    check_refused(p, key, value, allowed, f"command-line override '{bad}'")
    no_results(tmp_path)


@pytest.mark.system
def test_cli_names_the_yaml_file(tmp_path: Path) -> None:
    """A bad value inside a region YAML file is reported against that file, not the command line."""
    name = f"_test_bad_{uuid.uuid4().hex[:12]}"
    data = yaml.safe_load((CONFIG_DIR / "region" / "norfolk_waveney.yaml").read_text())
    channel = next(iter(data["channels"]))
    bad_value = -abs(float(data["channels"][channel]["referrals_per_year"])) - 1.0
    data["channels"][channel]["referrals_per_year"] = bad_value
    path = CONFIG_DIR / "region" / f"{name}.yaml"
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        p = run_cli("experiment=quick", f"region={name}", f"hydra.run.dir={tmp_path}/r")
    finally:
        path.unlink(missing_ok=True)
    msg = check_refused(p, f"region.channels.{channel}.referrals_per_year", repr(bad_value), "a finite number >= 0",
                        f"region/{name}.yaml")
    assert "command-line override" not in msg
    no_results(tmp_path)


@pytest.mark.system
def test_multirun_validates_every_job_first(tmp_path: Path) -> None:
    """In a sweep, the bad second value stops the whole multirun before the good first job runs."""
    p = run_cli("-m", "experiment=quick", "pathway.recruitment.shortlisting=0.5,1.5", f"hydra.sweep.dir={tmp_path}/s")
    check_refused(p, "pathway.recruitment.shortlisting", "1.5", "[0, 1]",
                  "command-line override 'pathway.recruitment.shortlisting=1.5'")
    no_results(tmp_path)
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


# ----------------------------------------------------------------------------- the library API
# Composition errors (unknown keys, wrong types) happen inside Hydra before `load`; they are covered on plain dicts
# below.
LIBRARY_CASES = [c for c in CLI_CASES if not c[0].startswith(("unknown", "wrong-type"))] + LIBRARY_ONLY


@pytest.mark.parametrize(("extra", "bad", "key", "value", "allowed"), [c[1:] for c in LIBRARY_CASES],
                         ids=[c[0] for c in LIBRARY_CASES])
@pytest.mark.unit
def test_load_raises_config_error(extra: tuple[str, ...], bad: str, key: str, value: str, allowed: str) -> None:
    """`sim.params.config.load` (via `make_params`) raises ConfigError carrying the key, value and range."""
    with pytest.raises(ConfigError) as info:
        make_params("experiment=quick", *extra, bad)
    e = info.value
    assert e.key == key
    assert allowed in e.allowed
    assert value in repr(e.value) or value in str(e.value)
    assert e.source is None  # the library does not guess where a value came from; the CLI does
    assert str(e) == e.message() and key in str(e)


@pytest.mark.parametrize(("cfg", "key", "value", "allowed"), [
    ({"region": {"foo": 1}}, "region.foo", UNKNOWN, "region: name, label"),
    ({"region": {"channels": {"x": {"bogus": 2}}}}, "region.channels.x.bogus", UNKNOWN, "referrals_per_year"),
    ({"experiment": {"replications": "abc"}}, "experiment.replications", "abc", "an integer"),
    ({"pathway": {"support": {"childcare": {"places": "many"}}}}, "pathway.support.childcare.places", "many",
     "a number"),
    ({"experiment": {"progress": "maybe"}}, "experiment.progress", "maybe", "true or false"),
    ({"pathway": {"recruitment": {"checks": {"kind": "gamma", "mean": 30, "cv": -1}}}},
     "pathway.recruitment.checks.cv", -1.0, "a finite number > 0"),
    ({"experiment": {"followup_days": -1}}, "experiment.followup_days", -1.0, "[0, 36525]"),
])
@pytest.mark.unit
def test_load_raises_on_plain_dicts(cfg: dict, key: str, value: object, allowed: str) -> None:
    """`load` on a plain dict (no Hydra) reports unknown keys and wrong types as ConfigError too."""
    with pytest.raises(ConfigError) as info:
        load(cfg)
    e = info.value
    assert (e.key, e.value) == (key, value)
    assert allowed in e.allowed


@pytest.mark.unit
def test_shipped_config_is_valid() -> None:
    """The control case: the shipped tree with every intervention loads without error."""
    names = sorted(p.stem for p in (CONFIG_DIR / "intervention").glob("*.yaml"))
    params = make_params("experiment=quick", f"intervention=[{','.join(names)}]")
    assert set(params.config.intervention) == set(names)


@pytest.mark.unit
def test_a_mistyped_name_is_answered_with_the_closest_one() -> None:
    """An unknown key, region or intervention close to a known one says 'did you mean'; a name close to none
    does not guess."""
    with pytest.raises(ConfigError) as info:
        load({"experiment": {"replicatons": 3}})
    assert "(did you mean 'replications'?)" in info.value.message()
    msg = composition_message("Could not find 'region/norfolk_wavney'", ["region=norfolk_wavney"])
    assert "unknown region 'norfolk_wavney' (did you mean 'norfolk_waveney'?); allowed: " in msg
    assert "did you mean" not in composition_message("Could not find 'region/zzzz'", ["region=zzzz"])


@pytest.mark.unit
def test_an_unknown_key_in_a_planners_own_group_file_names_that_file(tmp_path) -> None:
    """A file from a `hydra.searchpath` folder is named where it is, not as if it were in the shipped tree."""
    (tmp_path / "intervention").mkdir()
    (tmp_path / "intervention" / "odd.yaml").write_text("# @package intervention.odd\nplaces: 3\nnot_a_field: 2\n")
    text = ("In 'intervention/odd': ConfigKeyError raised while composing config:\nKey 'not_a_field' not in "
            "'Intervention'\n    full_key: intervention.odd.not_a_field\n")
    own = composition_message(text, ["+intervention=[odd]", f"hydra.searchpath=[file://{tmp_path}]"])
    assert own.startswith(f"{tmp_path / 'intervention' / 'odd.yaml'}: intervention.odd.not_a_field"), own
    shipped = composition_message(text.replace("odd", "childcare"), ["+intervention=[childcare]"])
    assert shipped.startswith("configs/intervention/childcare.yaml: "), shipped
