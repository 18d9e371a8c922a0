"""ipvae/energy.py: the fit reproduces the measurements it comes from, the model adds up as its
docstring says, and the bench's energy section reads the committed reports."""
from pathlib import Path

import pytest

from ipvae.bench import energy_section, fpga_latency
from ipvae.energy import BASE_LC, CORE_V, MEASURED, coefficients, ecp5_estimate, estimate, ice40_estimate

DOCS = Path(__file__).resolve().parent.parent / "docs" / "synthesis"


@pytest.mark.parametrize("row", [name for name in MEASURED if name.startswith("pll_")])
def test_the_pll_line_reproduces_its_rows(row):
    """The model of the measured design itself (28 LCs, no DSP) gives back each PLL row within 3 %."""
    m = MEASURED[row]
    c = coefficients()
    e = ice40_estimate(BASE_LC, 0, 1, m["mhz"], cycles=m["mhz"])      # 1 µs of work
    core_ua = e["low"]["mw"] * 1e3 / CORE_V - c["pll_rail_ua"]
    assert core_ua == pytest.approx(m["ua"], rel=0.03)
    assert e["low"]["mw"] == pytest.approx(e["high"]["mw"])           # no logic, no DSP: no bracket


def test_coefficients_are_the_measured_differences():
    c = coefficients()
    lo, hi = MEASURED["counter_32lc_12mhz"], MEASURED["counter_228lc_12mhz"]
    assert c["k_low"] * (hi["lc"] - lo["lc"]) * 12 == pytest.approx(hi["ua"] - lo["ua"])
    assert 0 < c["k_low"] < c["k_high"] and 0 < c["dsp_low"] < c["dsp_high"]
    # the DSP row is its base, its extra LCs and one DSP, at either end
    base, dsp = MEASURED["hfosc_counter_12mhz"], MEASURED["math_dsp_12mhz"]
    for k, i_dsp in ((c["k_high"], c["dsp_low"]), (c["k_low"], c["dsp_high"])):
        assert base["ua"] + k * (dsp["lc"] - base["lc"]) * 12 + i_dsp * 12 == pytest.approx(dsp["ua"])


def test_the_model_adds_up():
    c = coefficients()
    a = ice40_estimate(1000, 4, 2, 24.0, cycles=48_000)
    b = ice40_estimate(2000, 4, 2, 24.0, cycles=48_000)
    assert (b["high"]["logic_ua"] - a["high"]["logic_ua"]) == pytest.approx(c["k_high"] * 1000 * 24)
    assert a["low"]["dsp_ua"] == pytest.approx(c["dsp_low"] * 2 * 24)     # one phase's DSPs
    assert a["high"]["dsp_ua"] == pytest.approx(c["dsp_high"] * 4 * 24)    # all of them
    for end in ("low", "high"):                                          # energy = power × 2 ms
        assert a[end]["uj"] == pytest.approx(a[end]["mw"] * 2000 / 1e3)
        assert a["low"]["mw"] < a["high"]["mw"]


def test_reports_and_bench_section():
    fpga = [fpga_latency(DOCS / f"{name}.json") for name in ("icebreaker", "ulx3s-85f")]
    ice, why = estimate(fpga[0])
    assert why is None and ice["low"]["uj"] < ice["high"]["uj"] and ice["us"] == fpga[0]["us"]
    assert ice["low"]["uj"] == pytest.approx(ice["low"]["mw"] * fpga[0]["us"] / 1e3)
    ecp5, why = estimate(fpga[1])
    assert why is None and ecp5["bracket"] and ecp5["us"] == fpga[1]["us"]
    assert ecp5["low"]["uj"] == pytest.approx(212 * 1.1 * fpga[1]["us"] / 1e3)       # the 85F's core-rail budget
    assert ecp5["high"]["uj"] == pytest.approx(850 * fpga[1]["us"] / 1e3)            # a whole reference design
    lines = "\n".join(energy_section(fpga, 1e-3, fpga[0]))
    even = f"{ice['low']['uj']:.0f}–{ice['high']['uj']:.0f} mW"     # µJ per 1 ms of CPU time = mW
    assert even in lines and f"{ecp5['low']['uj']:.0f}–{ecp5['high']['uj']:.0f}" in lines and "butterstick" in lines


def test_an_ecp5_without_a_published_figure_is_named():
    row = dict(family="ecp5", board="ULX3S (ECP5 LFE5U-45F-6 CABGA381)", us=50.0, lanes=16, clock=50.0, used={})
    none, why = estimate(row)
    assert none is None and "LFE5U-45F" in why and "no published power figure" in why
    assert ecp5_estimate(25, 10.0) is None and ecp5_estimate(85, 10.0)["high"]["uj"] == pytest.approx(8.5)
