"""rtl/core/priority_encoder.py: the lowest set bit, exhaustively up to 8 bits, at random up to 64."""
import numpy as np
import pytest


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64])
def test_priority_encoder_finds_lowest_set_bit(n):
    from amaranth import Module, Signal
    from amaranth.sim import Simulator

    from ipvae.rtl.core.priority_encoder import index_bits, lowest_set
    m = Module()
    bits, found, index = Signal(n), Signal(), Signal(index_bits(n))
    any_, idx = lowest_set(bits)
    m.d.comb += [found.eq(any_), index.eq(idx)]
    rng = np.random.default_rng(n)
    values = (list(range(1 << n)) if n <= 8 else
              [int(v) for v in rng.integers(0, 1 << min(n, 62), 300)] + [1 << k for k in range(n)] + [0, (1 << n) - 1])
    seen = []

    async def bench(ctx):
        for v in values:
            ctx.set(bits, v)
            seen.append((v, ctx.get(found), ctx.get(index)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    for v, f, i in seen:
        assert f == (v != 0), v
        if v:
            assert i == (v & -v).bit_length() - 1, (v, i)
