"""The Amaranth core against the golden model: every iteration's u and z, the outputs and the
cycle count, under random input gaps and output/trace backpressure."""
import random

import numpy as np
import pytest

from ipvae.golden_model.data import DataSpec, prepare
from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats, encode_input
from ipvae.golden_model.golden import fold
from ipvae.golden_model.layout import weight_words
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.sim.amaranth_tb import check_core_runs
from ipvae.sim.amaranth_tb import simulate_core as simulate


@pytest.mark.parametrize("n, k, lanes, iterations, search", [
    (16, 16, 4, 4, 4), (12, 20, 5, 3, 1), (12, 20, 4, 5, 0), (12, 20, 1, 2, 2),
    (8, 12, 12, 3, 4), (8, 12, 12, 3, 0), (10, 6, 3, 0, 8), (16, 16, 4, 4, 0),
])
def test_core_bit_exact_with_stalls(n, k, lanes, iterations, search):
    tensors, _ = random_float_model(n, k, seed=n * 100 + k)
    fixed = fold(tensors, Formats())
    core = IpvaeCore(fixed, lanes=lanes, max_iterations=15, trace=True, search=search)
    rng = np.random.default_rng(k)
    runs = [(rng.integers(-128, 128, size=n), iterations, int(s)) for s in (1, 2 ** 32 - 1, 12345)]
    check_core_runs(core, runs, simulate(core, runs, stall=0.3, seed=k))


@pytest.mark.parametrize("search", [0, 4])
def test_core_without_trace_latency(search):
    """Without the trace port: same outputs; first output beat two cycles after the counted cycles."""
    tensors, _ = random_float_model(12, 20, seed=9)
    fixed = fold(tensors, Formats())
    core = IpvaeCore(fixed, lanes=4, max_iterations=7, search=search)
    rng = np.random.default_rng(3)
    runs = [(rng.integers(-128, 128, size=12), 6, s) for s in (4, 5)]
    results = simulate(core, runs, stall=0.0)
    check_core_runs(core, runs, results)
    for res in results:
        assert res["latency"] == res["cycles"] + 2


@pytest.mark.parametrize("lanes, reseed_wait", [(4, True), (1, True), (4, False)])
def test_core_with_loaded_weights(lanes, reseed_wait):
    """weights="ram": F and W written through the load port (in a shuffled order) give the
    same runs as the ROM build; the runs follow immediately after the last load. With
    reseed_wait off (the iCEBreaker's build) the generators load the seed only with the last code."""
    tensors, _ = random_float_model(12, 8, seed=21)
    fixed = fold(tensors, Formats())
    core = IpvaeCore(fixed, lanes=lanes, max_iterations=7, trace=True, weights="ram", reseed_wait=reseed_wait)
    f_words, w_words = weight_words(fixed, lanes)
    loads = [(0, a, w) for a, w in enumerate(f_words)] + [(1, a, w) for a, w in enumerate(w_words)]
    random.Random(lanes).shuffle(loads)
    rng = np.random.default_rng(5)
    runs = [(rng.integers(-128, 128, size=12), 5, s) for s in (8, 9)]
    check_core_runs(core, runs, simulate(core, runs, stall=0.3, seed=2, loads=loads))


def test_core_default_bundle_real_patch(default_bundle):
    data = prepare(DataSpec(**default_bundle.meta["data"]), log=lambda s: None)
    codes, _ = encode_input(data.valid[:2], default_bundle.fmt)
    core = IpvaeCore(default_bundle.fixed, lanes=16, max_iterations=15, trace=True)
    runs = [(codes[0], 6, 1), (codes[1], 3, 2)]
    check_core_runs(core, runs, simulate(core, runs, stall=0.2, seed=1))


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_core_parameter_errors(small_fixed):
    with pytest.raises(ParameterError, match=r"lanes \(3\) must divide the number of latents K \(20\)"):
        IpvaeCore(small_fixed, lanes=3)
    with pytest.raises(ParameterError, match="max_iterations must be in 1..2\\^20-1, got 0"):
        IpvaeCore(small_fixed, lanes=4, max_iterations=0)
    with pytest.raises(ParameterError, match=r"weights must be one of \('rom', 'ram'\), got 'flash'"):
        IpvaeCore(small_fixed, lanes=4, weights="flash")
    with pytest.raises(ParameterError,
                       match=r"search must divide 16 \(count_max \+ 1\) or be 0 \(the parallel sampler\), got 3"):
        IpvaeCore(small_fixed, lanes=4, search=3)
