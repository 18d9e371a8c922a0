"""rtl/core/array_core.py: the core around the neuron-parallel lateral array, bit-exact with the
golden model at S sampler lanes on every iteration's u and z (trace stream) and the outputs, and
cycle-exact with ``cycle_model.array_cycles``, under input gaps and output stalls, with one and
several neurons per lateral lane, F read in one or two words a column, both samplers, and
without the trace port; parameters it cannot build are refused with their reason."""
import numpy as np
import pytest

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.array_core import ArrayCore
from ipvae.rtl.core.config import CoreConfig
from ipvae.sim.amaranth_tb import check_core_runs, simulate_core


def _core(n, k, S, L, search, parts=2, tile=5, trace=True, fmt=None):
    tensors, _ = random_float_model(n, k, seed=n * 100 + k)
    fx = fold(tensors, fmt or Formats())
    return ArrayCore(CoreConfig(fx, S, lateral_lanes=L, max_iterations=15, trace=trace, search=search,
                                tile_lanes=tile, drive_parts=parts))


@pytest.mark.parametrize("n, k, S, L, T, search, parts", [
    (12, 16, 4, 16, 4, 1, 2), (12, 16, 1, 16, 3, 1, 2), (12, 16, 16, 16, 3, 4, 2), (12, 20, 4, 10, 5, 0, 2),
    (8, 12, 4, 4, 3, 4, 1), (10, 6, 3, 6, 0, 8, 2), (16, 16, 4, 8, 6, 2, 1), (16, 24, 4, 6, 5, 1, 3),
    # G = 32 read-out shifts outlast the first slot's spikes, which wait behind them and, at one
    # slot a cycle with the parallel sampler, are still queued at the pass's end (the ULX3S-85F's
    # G = 32 paper configuration was 10-30 cycles behind the model without that term)
    (8, 128, 4, 128, 3, 0, 2),
])
def test_bit_exact_and_cycle_exact(n, k, S, L, T, search, parts):
    core = _core(n, k, S, L, search, parts)
    rng = np.random.default_rng(k + L)
    runs = [(rng.integers(-128, 128, size=n), T, int(s)) for s in (1, 2 ** 32 - 1)]
    check_core_runs(core, runs, simulate_core(core, runs, stall=0.3, seed=k))


@pytest.mark.parametrize("source, sink", [("every_other", "bursts"), ("long", "every_other"), ("none", "none")])
def test_without_trace_under_stall_patterns(source, sink):
    core = _core(12, 16, 4, 4, 1, trace=False)            # 4 neurons a lane: the read-out waits for the last spike
    rng = np.random.default_rng(3)
    runs = [(rng.integers(-128, 128, size=12), T, 7) for T in (0, 1, 6)]
    check_core_runs(core, runs, simulate_core(core, runs, stall=0.3, seed=5, source=source, sink=sink))


def test_narrow_inputs_are_sign_extended():
    core = _core(10, 8, 2, 8, 1, fmt=Formats(input_bits=6))
    rng = np.random.default_rng(9)
    runs = [(rng.integers(-32, 32, size=10), 4, 3)]
    check_core_runs(core, runs, simulate_core(core, runs, stall=0.2, seed=1))


def test_parameter_errors():
    tensors, _ = random_float_model(8, 8, seed=1)
    fx = fold(tensors, Formats())
    with pytest.raises(ParameterError, match="ArrayCore needs lateral_lanes"):
        ArrayCore(CoreConfig(fx, 2))
    with pytest.raises(ParameterError, match=r"needs S = lanes \(4\) <= lateral_lanes \(2\)"):
        ArrayCore(CoreConfig(fx, 4, lateral_lanes=2))
    with pytest.raises(ParameterError, match=r"block-RAM ROMs \(weights='rom'\)"):
        ArrayCore(CoreConfig(fx, 2, lateral_lanes=8, weights="ram"))
    with pytest.raises(ParameterError, match="it needs count_bits = 4 and input_bits <= 8"):
        ArrayCore(CoreConfig(fold(tensors, Formats(count_bits=5)), 2, lateral_lanes=8))
    with pytest.raises(ParameterError, match="lateral_lanes must be 0 or a divisor of K = 8, got 3"):
        CoreConfig(fx, 2, lateral_lanes=3)
    with pytest.raises(ParameterError, match=r"drive_parts must be in 1..tile_lanes \(36\), got 0"):
        CoreConfig(fx, 2, lateral_lanes=8, drive_parts=0)
