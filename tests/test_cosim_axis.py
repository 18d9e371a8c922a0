"""The AXI4-Stream IP top on Verilator through cocotbext-axi (AxiStreamSource/Sink with pauses on
both streams): results bit-exact with the golden model, cycles equal to the cycle model, malformed
frames flagged and counted, on the trained default bundle and a random odd-size one."""
import numpy as np
import pytest

from ipvae.golden_model.random_model import random_bundle
from ipvae.sim.axis import run_axis
from ipvae.sim.regression import heldout_cases


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("axis_build")      # one Verilator build for both pause patterns


@pytest.mark.parametrize("source_pause, sink_pause", [("random", "random"), ("every_other", "bursts")])
def test_axis_trained_bundle(source_pause, sink_pause, build_root):
    cases = heldout_cases(None, 4, iterations=8, seed=3)
    res = run_axis("verilator", None, 16, cases, source_pause=source_pause, sink_pause=sink_pause,
                   build_root=build_root)
    assert len(res["results"]) == 4 and all(r["bit_exact"] and r["cycles"] == r["model_cycles"] for r in res["results"])
    assert res["frame_errors"] == 0


def test_axis_random_bundle_and_malformed_frames(tmp_path):
    path = random_bundle(tmp_path / "b", 12, 8, seed=5)
    rng = np.random.default_rng(2)
    good = [dict(name=f"good{i}", x=rng.integers(-128, 128, size=12), iterations=5, seed=i + 1) for i in range(3)]
    short = dict(name="short", x=rng.integers(-128, 128, size=7), iterations=4, seed=9)
    long = dict(name="long", x=rng.integers(-128, 128, size=15), iterations=6, seed=10)
    cases = [good[0], short, good[1], long, good[2]]
    res = run_axis("verilator", path, 4, cases, build_root=tmp_path / "sb")
    assert [r["tuser"] for r in res["results"]] == [0, 1, 0, 1, 0]
    assert all(r["bit_exact"] and r["cycles"] == r["model_cycles"] for r in res["results"])
    assert res["frame_errors"] == 2


def test_axis_run_time_weights(tmp_path):
    """weights="ram": F and W over w_axis (cocotbext-axi, paused), then frames bit-exact and cycle-exact."""
    path = random_bundle(tmp_path / "b", 12, 8, seed=6)
    rng = np.random.default_rng(3)
    cases = [dict(name=f"c{i}", x=rng.integers(-128, 128, size=12), iterations=4, seed=i + 3) for i in range(2)]
    res = run_axis("verilator", path, 4, cases, weights="ram", source_pause="every_other", build_root=tmp_path / "sb")
    assert all(r["bit_exact"] and r["cycles"] == r["model_cycles"] for r in res["results"])


def test_axis_array_core(tmp_path):
    """The array core (rtl/core/array_core.py: 128 lateral lanes, 16 sampler units) behind the same
    AXI4-Stream top: the trained default bundle's held-out patches back to back, paused on both
    streams, bit-exact with golden.run at 16 lanes and cycle-exact with cycle_model.array_cycles;
    then a short and a long frame flagged and counted."""
    cases = heldout_cases(None, 3, iterations=8, seed=4)
    rng = np.random.default_rng(5)
    cases += [dict(name="short", x=rng.integers(-128, 128, size=20), iterations=6, seed=21),
              dict(name="after", x=cases[0]["x"], iterations=7, seed=22)]
    res = run_axis("verilator", None, 16, cases, lateral_lanes=128, build_root=tmp_path / "sb")
    assert all(r["bit_exact"] and r["cycles"] == r["model_cycles"] for r in res["results"]), res["results"]
    assert [r["tuser"] for r in res["results"]] == [0, 0, 0, 1, 0] and res["frame_errors"] == 1
