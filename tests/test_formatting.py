"""sim/outputs/formatting.py: one way to write a number and its interval, and plain words for internal names."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.outputs.elements import MINUS
from sim.outputs.formatting import (
    KINDS,
    estimate,
    excel_format,
    group_label,
    mix_label,
    number,
    reason_label,
)
from sim.outputs.glossary import GLOSSARY

pytestmark = pytest.mark.unit

NUMBER = re.compile(rf"^([+{MINUS}]?)(£?)([\d,]+(?:\.(\d+))?)([km]?)(%| pp)?$")

values = st.floats(min_value=-5e7, max_value=5e7, allow_nan=False)
widths = st.floats(min_value=1e-6, max_value=5e6, allow_nan=False)


def _parts(text: str) -> tuple[str, str, int, str, str]:
    """(sign, £, decimals, k or m, % or pp) of one printed number."""
    m = NUMBER.match(text)
    assert m, text
    return m.group(1), m.group(2), len(m.group(4) or ""), m.group(5), m.group(6) or ""


@given(kind=st.sampled_from(KINDS), mean=values, below=widths, above=widths, signed=st.booleans())
def test_a_value_and_both_bounds_share_a_scale_and_unit(kind: str, mean: float, below: float, above: float,
                                                        signed: bool) -> None:
    """Every bound carries the unit of the value, and all three the same k/m scale and decimals."""
    if kind == "pct":
        mean, below, above = abs(mean) % 1, below % 0.5, above % 0.5
    low, high = mean - below, mean + above
    if low == high:
        return
    w = estimate(mean, low, high, kind, signed)
    shown = [_parts(t) for t in (w.value, w.low, w.high)]
    assert len({(p[1], p[2], p[3], p[4]) for p in shown}) == 1, w
    assert str(w) == f"{w.value} ({w.low} to {w.high})"
    half = (high - low) / 2 * (100 if kind in ("pct", "pp") else 1)
    if kind not in ("count", "gbp") and shown[0][3] == "" and half >= 1e-6:  # decimals follow the interval
        assert shown[0][2] == max(0, -math.floor(math.log10(half))), (w, half)


@given(mean=values, below=widths, above=widths, signed=st.booleans())
def test_people_are_whole_numbers(mean: float, below: float, above: float, signed: bool) -> None:
    w = estimate(mean, mean - below, mean + above, "count", signed)
    for text in (w.value, w.low, w.high, number(mean, "count")):
        assert _parts(text)[2] == 0 and "." not in text, text


@pytest.mark.parametrize(("args", "written"), [
    ((7_278.4, 7_121.0, 7_436.0, "gbp"), "£7,278 (£7,121 to £7,436)"),
    ((1_549_761, 1_268_493, 1_778_174, "gbp"), "£1,549,761 (£1,268,493 to £1,778,174)"),
    ((11_000.0, 9_984.0, 12_000.0, "gbpk"), "£11k (£10k to £12k)"),
    ((15_376.0, 14_960.0, 15_834.0, "gbpk"), "£15.4k (£15.0k to £15.8k)"),
    ((1_457_736.0, 1_200_000.0, 1_700_000.0, "gbpk"), "£1.5m (£1.2m to £1.7m)"),
    ((166.0, 120.2, 210.9, "count"), "166 (120 to 211)"),
    ((9.1e-6, -5e-4, 5.2e-4, "pp"), "0.00 pp (\u22120.05 pp to +0.05 pp)"),
    ((0.42, 0.40, 0.44, "pct"), "42% (40% to 44%)"),
])
def test_known_values(args: tuple, written: str) -> None:
    *numbers, kind = args
    assert str(estimate(*numbers, kind, signed=kind == "pp")) == written


def test_a_number_alone_and_missing_ones() -> None:
    assert number(1_457_736.0, "gbpk") == "£1.46m" and number(8_000.0, "gbpk") == "£8,000"
    assert number(math.nan, "count") == "n/a" and str(estimate(math.nan, 1.0, 2.0)) == "n/a"
    assert str(estimate(3.0, math.inf, -math.inf, "count")) == "3"  # no finite interval: the value alone
    assert number(-0.2, "count", signed=True) == "0"  # no sign on a number that prints as zero


def test_spreadsheet_formats_follow_the_same_rule() -> None:
    assert excel_format("count", 120.2, 210.9) == "#,##0"
    assert excel_format("pp", -5e-4, 5e-4) == "0.00%"
    assert excel_format("pct") == "0%" and excel_format("gbpk", 1e6, 2e6) == "£#,##0"
    assert excel_format("small", 1.0, 1.3) == "#,##0.0"


CONFIG = {
    "pathway": {"training": {"courses": {"care_preemployment": {"label": "Pre-employment care course"}}}},
    "region": {"workforce": {"groups": {"acute": {"label": "Acute trusts"}}, "roles": {}},
               "channels": {"jobcentre": {"label": "Jobcentre Plus"}}},
    "intervention": {"outreach": {"label": "Community outreach"}, "employment_advisers": {"label": "Advisers"}},
}


@pytest.mark.parametrize(("group", "label"), [
    ("sector:nhs", "NHS"), ("sector:social_care", "Adult social care"), ("employer:acute", "Acute trusts"),
    ("role:nursing_home_na_apprenticeship", "nursing home na apprenticeship"), ("channel:jobcentre", "Jobcentre Plus"),
    ("quintile:1", "Quintile 1 (most deprived)"), ("capacity:course:care_preemployment",
                                                    "Places on the pre-employment care course"),
    ("capacity:advisers", "Adviser caseloads"), ("intervention:outreach", "Community outreach"), ("all", "All"),
])
def test_groups_in_words(group: str, label: str) -> None:
    assert group_label(group, CONFIG) == label


def test_reasons_and_mixes_in_words() -> None:
    assert reason_label("did not complete care_preemployment", CONFIG) == \
        "did not complete the Pre-employment care course"
    assert reason_label("declined the offer", CONFIG) == "declined the offer"
    labels = {n: iv["label"] for n, iv in CONFIG["intervention"].items()}
    assert mix_label({"outreach": 2, "employment_advisers": 2, "mentoring": 0}, labels) == \
        "Community outreach: 2 places; Advisers: 2 places"


def test_glossary_defines_the_terms_a_board_meets() -> None:
    terms = {t.term for t in GLOSSARY}
    assert {"BAU", "var_ratio", "pp", "delta method", "deadweight", "displacement", "paired"} <= terms
    assert all(t.meaning.endswith(".") and len(t.meaning) > 30 for t in GLOSSARY)
