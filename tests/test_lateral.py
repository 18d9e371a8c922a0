"""rtl/core/lateral.py against the event-driven lateral model: values and busy cycles."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.layout import pack
from ipvae.golden_model.random_model import random_float_model
from ipvae.sim.amaranth_tb import stalls, stream_put
from ipvae.sim.amaranth_tb import unpack_list as _unpack


@pytest.mark.parametrize("n, k, lanes", [(12, 20, 4), (8, 12, 12), (6, 10, 1)])
def test_lateral_units_match_event_driven_model(n, k, lanes):
    """Two phases back to back (the second must overwrite, not add to, the first); spike entries
    arrive with random gaps; busy lasts exactly phase_cycles(e, n) cycles."""
    from amaranth.sim import Simulator

    from ipvae.golden_model.golden import lateral_dense
    from ipvae.rtl.core.lateral import LateralUnits

    tensors, _ = random_float_model(n, k, seed=k)
    fixed = fold(tensors, Formats())
    block = LateralUnits(fixed, lanes)
    S, cb, lw = k // lanes, fixed.fmt.count_bits, fixed.widths()["lateral"]
    rng = np.random.default_rng(k)
    phases = []
    for density in (0.3, 0.1):
        z = rng.integers(1, 16, size=k) * (rng.random(k) < density)
        z[rng.integers(k)] = 3  # at least one spike
        phases.append(z)
    gaps = stalls("random", k)
    got = []

    async def bench(ctx):
        for z in phases:
            zs = z.reshape(S, lanes)
            entries = [(s, zs[s]) for s in range(S) if zs[s].any()]
            for s, word in entries:
                await stream_put(ctx, block.spikes, {"z": pack(word, cb), "slot": s}, gaps)
            assert ctx.get(block.entries) == len(entries)
            ctx.set(block.start, 1)
            await ctx.tick()
            ctx.set(block.start, 0)
            busy = 0
            while ctx.get(block.busy):
                busy += 1
                await ctx.tick()
            assert busy == block.phase_cycles(len(entries), int(np.count_nonzero(z)))
            lvals = []
            for s in range(S):
                ctx.set(block.l_addr, s)
                await ctx.tick()
                lvals += _unpack(ctx.get(block.l_data), lanes, lw, True)
            got.append(np.array(lvals))

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for z, sums in zip(phases, got):
        assert np.array_equal(sums, lateral_dense(fixed, z[None, :])[0])
