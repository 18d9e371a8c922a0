"""Shared check for both sampler forms: a block reseeded with ``seed``, driven under stalls, against
the golden model's PRNG lanes and Poisson table."""
import numpy as np

from ipvae.golden_model.layout import pack
from ipvae.golden_model.sampler import PrngLanes, sample_counts
from ipvae.sim.amaranth_tb import run_stream_block
from ipvae.sim.amaranth_tb import unpack_list as _unpack


def check_sampler_block(block, fmt, lanes, beats_u, seed, stream_seed, source="random", sink="random"):
    """Drive a sampler block (reseeded with ``seed``) under stalls; compare every beat with the
    golden model's PRNG lanes + table. Returns the counts."""
    async def setup(ctx):
        ctx.set(block.seed, seed)
        ctx.set(block.reseed, 1)
        await ctx.tick()
        ctx.set(block.reseed, 0)

    out = run_stream_block(block, [dict(u=pack(u, fmt.u_bits)) for u in beats_u], setup=setup, seed=stream_seed,
                           source=source, sink=sink)
    assert len(out) == len(beats_u)
    prng = PrngLanes([seed], lanes, fmt.prob_bits)
    zs = []
    for u, o in zip(beats_u, out):
        want = sample_counts(u, prng.uniforms(lanes)[0], block.table, fmt)
        assert _unpack(o["z"], lanes, fmt.count_bits, False) == want.tolist()
        zs.append(want)
    return np.array(zs)
