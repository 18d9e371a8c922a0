"""rtl/core/drive.py against the golden model's drive, with input gaps and output backpressure."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.sim.amaranth_tb import stalls, stream_get, stream_put
from ipvae.sim.amaranth_tb import unpack_list as _unpack


@pytest.mark.parametrize("n, k, lanes, pattern", [(12, 20, 4, "random"), (7, 6, 6, "random"), (5, 8, 1, "random"),
                                                  (6, 8, 2, "every_other"), (6, 8, 4, "bursts"), (5, 6, 3, "long")])
def test_feed_forward_drive_matches_model(n, k, lanes, pattern):
    """Three inferences through the drive block with input gaps and output backpressure."""
    from amaranth.sim import Simulator

    from ipvae.golden_model.golden import drive
    from ipvae.rtl.core.drive import FeedForwardDrive

    tensors, _ = random_float_model(n, k, seed=n + k)
    fixed = fold(tensors, Formats())
    block = FeedForwardDrive(fixed, lanes)
    S, dw = k // lanes, fixed.widths()["drive"]
    rng = np.random.default_rng(n)
    xs = rng.integers(-128, 128, size=(3, n))
    xs[1] = 127  # maximum amplitude
    src, snk = stalls(pattern, n), stalls(pattern, n + 1)
    got = []

    async def source(ctx):
        for x in xs:
            for v in x:
                await stream_put(ctx, block.i, int(v), src)

    async def sink(ctx):
        while len(got) < 3 * S:
            beat = await stream_get(ctx, block.o, snk, ["d"])
            got.append(_unpack(beat["d"], lanes, dw, True))

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    want = drive(fixed, xs)
    assert np.array_equal(np.array(got).reshape(3, k), want)


def test_lane_copies_one_register_per_group_kept_only_when_several():
    from ipvae.rtl.core.fanout import LANES_PER_COPY, copy_of, lane_copies
    few, many = lane_copies("x", 4, LANES_PER_COPY), lane_copies("x", 4, 4 * LANES_PER_COPY + 1)
    assert len(few) == 1 and not few[0].attrs
    assert len(many) == 5 and all(c.attrs == {"keep": 1} for c in many)
    assert [copy_of(many, p) for p in (0, LANES_PER_COPY - 1, LANES_PER_COPY, 4 * LANES_PER_COPY)] == \
        [many[0], many[0], many[1], many[4]]
