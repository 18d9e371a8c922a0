"""The ipvae command: user errors print one line and exit 2, never a traceback."""
import subprocess
import sys

import numpy as np


def ipvae(*args):
    return subprocess.run([sys.executable, "-m", "ipvae.cli", *args], capture_output=True, text=True,
                          timeout=600)


def test_eval_default_bundle():
    r = ipvae("eval", "--samples", "200", "--t", "16", "--runaway", "0", "--lanes", "4")
    assert r.returncode == 0, r.stderr
    assert "| float (PyTorch) |" in r.stdout and "| fixed (golden) |" in r.stdout


def test_bad_bundle_error_is_one_line(tmp_path):
    r = ipvae("eval", "--bundle", str(tmp_path / "missing"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"ipvae eval: error: bundle {tmp_path / 'missing'} is not a directory"
    assert "Traceback" not in r.stderr


def test_bad_lanes_error(tmp_path):
    r = ipvae("eval", "--samples", "10", "--t", "4", "--runaway", "0", "--lanes", "3")
    assert r.returncode == 2
    assert "lanes (3) must divide the number of latents K (128)" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_data_file(tmp_path):
    np.save(tmp_path / "x.npy", np.full((20, 4), np.inf))
    r = ipvae("data", "--dataset", "file", "--path", str(tmp_path / "x.npy"))
    assert r.returncode == 2 and "contains NaN or Inf" in r.stderr and "Traceback" not in r.stderr


def test_bad_width(tmp_path):
    r = ipvae("export", "--checkpoint", str(tmp_path / "c.pt"), "--out", str(tmp_path / "b"), "--weight-bits", "1")
    assert r.returncode == 2
    assert r.stderr.strip() == "ipvae export: error: weight_bits must be in 2..18 (DSP operand width), got 1"


def test_missing_checkpoint(tmp_path):
    r = ipvae("export", "--checkpoint", str(tmp_path / "c.pt"), "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "checkpoint" in r.stderr and "does not exist" in r.stderr


def test_rtl_writes_verilog_and_parameters(tmp_path):
    import json
    r = ipvae("rtl", "--lanes", "16", "--max-iterations", "63", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    v = (tmp_path / "ipvae_core.v").read_text()
    assert "module ipvae_core" in v and "input [7:0] i__payload;" in v and "output [31:0] cycles;" in v
    params = json.loads((tmp_path / "ipvae_core.json").read_text())
    assert params["lanes"] == 16 and params["slots"] == 8 and params["n_latents"] == 128
    assert params["widths"]["lateral"] >= 1


def test_rtl_rejects_lanes(tmp_path):
    r = ipvae("rtl", "--lanes", "7", "--out", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == "ipvae rtl: error: lanes (7) must divide the number of latents K (128)"
