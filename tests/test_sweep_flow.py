"""The sweep's Pareto selection and argument checks (fast); the whole flow and a sweep point
end to end (slow: each synthesises for the UP5K)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ipvae.golden_model.errors import ParameterError
from ipvae.sweep import pareto, run_sweep


def test_pareto_marks_undominated_points():
    pts = [dict(us=100, logic_pct=50, r2=0.70, fits=True), dict(us=200, logic_pct=30, r2=0.70, fits=True),
           dict(us=200, logic_pct=60, r2=0.69, fits=True),          # beaten by the first on all three
           dict(us=150, logic_pct=55, r2=0.72, fits=True), dict(us=50, logic_pct=100, r2=0.9, fits=False)]
    assert [p["pareto"] for p in pareto(pts)] == [True, True, False, True, False]


def test_pareto_leaves_out_points_that_miss_their_clock():
    """A bitstream whose Fmax misses its clock is not shippable: it neither is nor hides a Pareto point."""
    pts = [dict(us=100, logic_pct=50, r2=0.70, fits=True, met=True),
           dict(us=80, logic_pct=40, r2=0.71, fits=True, met=False),          # better on all three, but misses
           dict(us=120, logic_pct=60, r2=0.70, fits=True, met=True)]          # beaten by the first
    assert [p["pareto"] for p in pareto(pts)] == [True, False, False]


def test_sweep_argument_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"lanes \[3\] do not divide K=128"):
        run_sweep("icebreaker", [3], [8], out=tmp_path, log=lambda s: None)
    with pytest.raises(ParameterError, match=r"weight widths must be in 2..16, got \[20\]"):
        run_sweep("icebreaker", [4], [20], out=tmp_path, log=lambda s: None)
    with pytest.raises(ParameterError, match=r"core clocks must be 1..400 MHz, got \[900.0\]"):
        run_sweep("icebreaker", [4], [8], clocks=[900.0], out=tmp_path, log=lambda s: None)
    with pytest.raises(ParameterError, match=r"no iCE40 PLL setting gives 5.0 MHz"):
        run_sweep("icebreaker", [4], [8], clocks=[5.0], out=tmp_path, log=lambda s: None)


@pytest.mark.slow
def test_sweep_two_points(tmp_path):
    pts = run_sweep("icebreaker", [2, 4], [8], out=tmp_path, jobs=2, samples=100, log=lambda s: None)
    assert all(p["fits"] for p in pts) and (tmp_path / "pareto.png").stat().st_size > 10_000
    assert pts[0]["us"] > pts[1]["us"]                  # more lanes: fewer cycles
    assert all(p["clock_mhz"] == pytest.approx(30.0) for p in pts)   # the board's clock when none is asked for


@pytest.mark.slow
def test_flow_end_to_end(tmp_path):
    """The README's main command on a reduced sample count: every stage, every plot."""
    out = tmp_path / "flow"
    subprocess.run([sys.executable, "-m", "ipvae.cli", "flow", "--out", str(out), "--samples", "200",
                    "--sim-samples", "2"], check=True)
    for name in ("report.md", "dictionary.png", "reconstructions.png", "raster.png", "curves.png",
                 "cycles_per_iteration.png", "synth_icebreaker/report.md"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    assert s["cosim"]["bit_exact"] == s["cosim"]["samples"] and s["latency_us"] > 0
    assert Path(s["synthesis"]["report"]).exists()
