"""Regions stand on their own numbers or say they borrow: `region.borrows` is checked, every shipped region
that takes another's referral routes, capacities or role mix declares it, and the report's headline names it."""

from __future__ import annotations

import pytest
from conftest import make_params
from omegaconf import OmegaConf

from sim.params.errors import ConfigError
from sim.params.paths import CONFIG_DIR
from sim.params.schema import BORROWABLE

pytestmark = pytest.mark.unit

REGIONS = sorted(p.stem for p in (CONFIG_DIR / "region").glob("*.yaml"))
DEFAULT = "norfolk_waveney"


@pytest.mark.parametrize("name", REGIONS)
def test_every_region_gives_its_own_numbers_or_declares_what_it_borrows(name: str) -> None:
    """A region file that inherits the default region's file and does not set its own channels, or cannot set
    pathway capacities (the pathway file is the default region's), lists them under `borrows`."""
    raw = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "region" / f"{name}.yaml"))
    inherits = DEFAULT in (raw.get("defaults") or [])
    borrows = set(raw.get("borrows") or [])
    if name == DEFAULT:
        assert not borrows and not raw.get("borrows_from")
        return
    assert inherits, f"{name}: a region that does not start from {DEFAULT} must give every number itself"
    if "channels" not in raw:
        assert "referral_routes" in borrows, name
    if "capacity_scale" not in raw:
        assert "pathway_capacities" in borrows, name
    if "roles" not in (raw.get("workforce") or {}):
        assert "roles_and_turnover" in borrows, name
    assert raw.get("borrows_from") == "Norfolk and Waveney"
    p = make_params(f"region={name}", "experiment=quick", "experiment.progress=false")  # validates
    assert list(p.config.region.borrows) == list(raw["borrows"])


@pytest.mark.parametrize(("override", "key"), [
    ("region.borrows=[referral_routes,staff]", "region.borrows = 'staff'"),
    ("region.borrows=[referral_routes]", "region.borrows_from = ''"),
    ("region.borrows_from=Suffolk", "region.borrows = []"),
    ("region.borrows=[referral_routes,referral_routes]", "region.borrows = ["),
])
def test_bad_borrows_are_refused_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        make_params(override, "experiment=quick")
    assert key in str(e.value)


def test_the_headline_names_what_the_region_borrows() -> None:
    from sim.outputs.elements import Table
    from sim.outputs.report import templates
    from sim.outputs.sections import borrowed

    p = make_params("region=cumbria", "experiment=quick")
    text = borrowed(OmegaConf.to_container(OmegaConf.structured(p.config)))
    assert text.startswith("Cumbria (Cumberland, Westmorland and Furness) borrows from Norfolk and Waveney")
    assert all(BORROWABLE[w] in text for w in p.config.region.borrows)
    html = templates().get_template("sections/headline.html.j2").render(table=Table(["Option"], [], "headline"),
                                                                        n_reps=3, borrows=text)
    assert "borrows from Norfolk and Waveney" in html
    assert borrowed(OmegaConf.to_container(OmegaConf.structured(make_params("experiment=quick").config))) == ""
