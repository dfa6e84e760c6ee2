"""One registry per concept: the KPIs the model emits are the registry's, and each name has one label.

A KPI is one entry of sim/params/kpis.py (label, short label, unit, direction, groups); a fixed stage's label is
in sim/params/config.py beside the stage names; an intervention's and a support stage's label is in its own YAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import make_params

from sim.model import simulate
from sim.outputs.formatting import KINDS
from sim.params.kpis import COST_RATIOS, KPI, KPI_NAMES, KPIS, group
from sim.params.paths import CONFIG_DIR
from sim.params.schema import FIRST_STAGES, LAST_STAGES, STAGE_LABELS


@pytest.mark.model
def test_the_model_emits_exactly_the_registered_kpis() -> None:
    """One short replication (with an intervention that serves residents, so `served` is emitted) reports every
    registered KPI but the derived cost ratios, and nothing the registry does not name."""
    out = simulate(make_params("experiment=quick", "intervention=[intensive_support]"), 0)
    assert {k for k, _, _ in out.kpis} == set(KPI_NAMES)
    assert set(KPI_NAMES) | {k.name for k in COST_RATIOS} == set(KPI)


@pytest.mark.unit
def test_every_entry_is_complete_and_its_labels_are_its_own() -> None:
    """Each KPI prints in a kind the outputs know, has a direction, and no two KPIs share a label or short label."""
    assert len(KPI) == len(KPIS)
    for k in KPIS:
        assert k.unit in KINDS, k  # the kinds sim.outputs.formatting prints (text and spreadsheet formats)
        assert k.better in ("higher", "lower", "none"), k
        assert k.label[:1].islower() and k.short[:1].isupper(), k  # in a sentence; as a header
    for attr in ("label", "short"):
        labels = [getattr(k, attr) for k in KPIS]
        assert len(set(labels)) == len(labels), attr


@pytest.mark.unit
def test_cost_ratios_name_an_effect_with_a_direction() -> None:
    """A derived cost per unit of effect names a KPI the model emits, whose direction makes a change a gain."""
    assert COST_RATIOS
    for r in COST_RATIOS:
        effect = KPI[r.effect]
        assert effect.name in KPI_NAMES and effect.sign != 0 and r.per > 0
    assert all(not k.effect for k in KPIS if k not in COST_RATIOS)


@pytest.mark.unit
def test_the_groups_the_outputs_read_are_not_empty() -> None:
    for name in ("summary", "sweep", "sweep_change", "forest", "effects", "staffing", "decide", "objective", "flow",
                 "succession", "capacity", "derived"):
        assert group(name), name
    assert all(k.sign for k in group("objective"))  # the optimiser maximises sign x KPI


@pytest.mark.unit
def test_stage_and_intervention_labels_have_one_source() -> None:
    """Every fixed stage has its label beside the stage names; every support stage and every intervention
    names itself in its own YAML (the outputs fall back to the key only for a user's own, unlabelled ones)."""
    assert set(STAGE_LABELS) == {*FIRST_STAGES, *LAST_STAGES}
    for f in sorted((CONFIG_DIR / "pathway").glob("*.yaml")):
        for name, stage in (yaml.safe_load(f.read_text()).get("support") or {}).items():
            assert str(stage.get("label") or "").strip(), (f.name, name)
    labels = {}
    for f in sorted((CONFIG_DIR / "intervention").glob("*.yaml")):
        label = str(((yaml.safe_load(f.read_text()) or {}).get(f.stem) or {}).get("label") or "").strip()
        assert label, f.name
        labels[label] = labels.get(label, []) + [f.name]
    assert all(len(v) == 1 for v in labels.values()), labels


@pytest.mark.unit
def test_no_output_spells_a_kpi_label_of_its_own() -> None:
    """The labels of the KPIs the outputs show appear in the code only in the registry (no table of its own)."""
    sim = Path(__file__).resolve().parent.parent / "sim"
    shown = [k for k in KPIS if k.groups and set(k.groups) - {"flow", "succession", "derived"}]
    for path in sim.rglob("*.py"):
        if path.name == "kpis.py":
            continue
        text = path.read_text()
        for k in shown:
            assert f'"{k.short}"' not in text and f'"{k.sentence}"' not in text, (path.name, k.name)
