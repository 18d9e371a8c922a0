"""Per-block Amaranth simulations against small behavioural models from the golden model, with
random input gaps and output backpressure on every stream."""
import numpy as np
import pytest

from golden_model.formats import Formats
from golden_model.golden import fold, update
from golden_model.sampler import PrngLanes, poisson_table, sample_counts
from rtl.membrane import MembraneUpdate
from rtl.poisson_sampler import PoissonSampler, pack
from tests.conftest import random_float_model
from tests.core_sim import _unpack
from tests.stream_sim import run_stream_block


@pytest.mark.parametrize("lanes, fmt", [(4, Formats()), (3, Formats(prob_bits=16, sampler_frac=4)),
                                         (1, Formats(count_bits=3))])
def test_poisson_sampler_matches_model(lanes, fmt):
    rng = np.random.default_rng(lanes)
    beats_u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(120, lanes))
    beats_u[:40] = rng.integers(-3 << fmt.u_frac, 2 << fmt.u_frac, size=(40, lanes))  # where spikes happen
    table = poisson_table(fmt)
    block = PoissonSampler(fmt, table, lanes)
    seed = 0xDEADBEEF

    async def setup(ctx):
        ctx.set(block.seed, seed)
        ctx.set(block.reseed, 1)
        await ctx.tick()
        ctx.set(block.reseed, 0)

    out = run_stream_block(block, [dict(u=pack(u, fmt.u_bits)) for u in beats_u], setup=setup, seed=lanes)
    assert len(out) == len(beats_u)
    prng = PrngLanes([seed], lanes, fmt.prob_bits)
    for u, o in zip(beats_u, out):
        want = sample_counts(u, prng.uniforms(lanes)[0], table, fmt)
        assert _unpack(o["z"], lanes, fmt.count_bits, False) == want.tolist()
    assert sum(sum(_unpack(o["z"], lanes, fmt.count_bits, False)) for o in out) > 0


@pytest.mark.parametrize("lanes", [1, 4])
def test_membrane_update_matches_model(lanes):
    tensors, _ = random_float_model(12, 20, seed=5)
    fixed = fold(tensors, Formats())
    fmt, w = fixed.fmt, fixed.widths()
    rng = np.random.default_rng(lanes)
    beats, want = [], []
    for _ in range(150):
        u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=lanes)
        d = rng.integers(-(1 << (w["drive"] - 1)), 1 << (w["drive"] - 1), size=lanes)
        lat = rng.integers(-(1 << (w["lateral"] - 1)), 1 << (w["lateral"] - 1), size=lanes)
        prior, lateral = int(rng.random() < 0.2), int(rng.random() < 0.7)
        beats.append(dict(u=pack(u, fmt.u_bits), d=pack(d, w["drive"]), l=pack(lat, w["lateral"]),
                          prior=prior, lateral=lateral))
        want.append(u if prior else update(fixed, u, d, lat if lateral else np.zeros_like(lat)))
    out = run_stream_block(MembraneUpdate(fixed, lanes), beats, seed=lanes)
    assert len(out) == len(beats)
    for o, wv in zip(out, want):
        assert _unpack(o["u"], lanes, fmt.u_bits, True) == list(wv)
    clamped = [wv for wv in want if fmt.u_hi in wv or fmt.u_lo in wv]
    assert clamped  # the stimulus reaches both clamps


def test_block_latency_properties():
    assert PoissonSampler.latency == 2 and MembraneUpdate.latency == 1
