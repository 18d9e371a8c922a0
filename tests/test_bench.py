"""ipvae/bench.py's CPU anchor computes the model it claims to (its quality matches the float
model's), and its timing helpers measure what they say. No timings are asserted (benchmarks print
tables; tests check the code)."""
from pathlib import Path

import numpy as np

from ipvae.bench import (
    compiled_golden_latency,
    compiled_loop,
    compiled_loop_latency,
    fold32,
    fpga_latency,
    numpy_loop,
    numpy_loop_latency,
)
from ipvae.golden_model.data import heldout, prepare
from ipvae.golden_model.evaluate import float_metrics
from ipvae.golden_model.metrics import quality
from ipvae.rtl.boards.registry import get_board


def test_numpy_loop_is_the_float_model(default_bundle):
    b = default_bundle
    x = heldout(prepare(b.data_spec(), log=lambda s: None), 400)
    fold = fold32(b)
    batch = quality(x, numpy_loop(fold, np.asarray(x, np.float32), 64, np.random.default_rng(1)), b.phi)
    single = np.stack([numpy_loop(fold, np.asarray(v, np.float32), 64, np.random.default_rng(i))
                       for i, v in enumerate(x)])
    one = quality(x, single, b.phi)
    ref = float_metrics(b.float_model(), x, (64,))[64]
    for got in (batch, one):       # sampling noise on 400 patches: a few thousandths
        assert abs(got["r2"] - ref["r2"]) < 0.02 and abs(got["zeros"] - ref["zeros"]) < 0.01
    assert numpy_loop_latency(b, x[:4], 1, repeats=1) > 0


def test_compiled_loop_is_the_float_model(default_bundle):
    """The Numba loop computes the same model: its quality on 400 held-out patches is the float
    model's within sampling noise, and one seed gives one result."""
    b = default_bundle
    x = heldout(prepare(b.data_spec(), log=lambda s: None), 400)
    fold = fold32(b)
    loop, wt = compiled_loop(), np.ascontiguousarray(fold["W"].T)
    xs = np.asarray(x, np.float32)
    z = np.stack([loop(fold["F"], wt, fold["c"], fold["u0"], v, 64, i) for i, v in enumerate(xs)])
    got, ref = quality(x, z, b.phi), float_metrics(b.float_model(), x, (64,))[64]
    assert abs(got["r2"] - ref["r2"]) < 0.02 and abs(got["zeros"] - ref["zeros"]) < 0.01
    assert np.array_equal(loop(fold["F"], wt, fold["c"], fold["u0"], xs[0], 64, 7),
                          loop(fold["F"], wt, fold["c"], fold["u0"], xs[0], 64, 7))
    assert compiled_loop_latency(b, x[:4], repeats=1) > 0
    assert compiled_golden_latency(b, x[:4], lanes=4, repeats=1) > 0


def test_fpga_rows_read_the_committed_reports():
    f = fpga_latency(Path(__file__).resolve().parent.parent / "docs" / "synthesis" / "icebreaker.json")
    assert f["us"] == f["cycles"] / f["clock"] and f["baud"] == get_board("icebreaker").baud
    assert 0 < f["uart_per_s"] < 1e6 / f["us"]
