"""rtl/link/result_buffer.py on its own: a counts-only result's K/P beats go through the FIFO in
order under every stall pattern on both sides, the core's side takes all K/P beats without the
writer reading one (the core is free before the reply drains), a beat is offered two cycles after
it was taken, and a result with u passes straight through."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.result_buffer import ResultBuffer
from ipvae.sim.amaranth_tb import STALL_PATTERNS, stalls, stream_get, stream_put


@pytest.fixture(scope="module")
def core():
    tensors, _ = random_float_model(12, 16, seed=2)
    return IpvaeCore(fold(tensors, Formats()), 4, max_iterations=15)     # sizes only: K/P = 4 beats


def _beats(core, n, seed):
    rng = np.random.default_rng(seed)
    zb, ub = core.output_layout["z"].shape.width, core.output_layout["u"].shape.width
    return [(int.from_bytes(rng.bytes(8), "little") % (1 << zb), int.from_bytes(rng.bytes(16), "little") % (1 << ub))
            for _ in range(n)]


def _run(dut, benches):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for b, background in benches:
        sim.add_testbench(b, background=background)
    sim.run()


@pytest.mark.parametrize("source, sink", [(p, q) for p in STALL_PATTERNS for q in ("none", "random", "long")])
def test_counts_pass_in_order(core, source, sink):
    dut = ResultBuffer(core)
    results = [_beats(core, core.slots, s) for s in range(3)]
    got = []

    async def producer(ctx):
        pauses = stalls(source, seed=1)
        for beats in results:
            for z, u in beats:
                await stream_put(ctx, dut.i, {"z": z, "u": u}, pauses)

    async def consumer(ctx):
        pauses = stalls(sink, seed=2)
        for _ in range(sum(map(len, results))):
            got.append(int((await stream_get(ctx, dut.o, pauses)).z))

    _run(dut, [(producer, True), (consumer, False)])
    assert got == [z for beats in results for z, _ in beats]


def test_core_side_takes_a_whole_result_before_the_writer_reads(core):
    dut = ResultBuffer(core)
    beats = _beats(core, core.slots, 7)
    taken = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        for z, u in beats:
            ctx.set(dut.i.payload.z, z)
            ctx.set(dut.i.payload.u, u)
            ctx.set(dut.i.valid, 1)
            assert ctx.get(dut.i.ready)            # room for all K/P beats: never a wait
            await ctx.tick()
            taken.append(z)
        ctx.set(dut.i.valid, 0)

    _run(dut, [(bench, False)])
    assert taken == [z for z, _ in beats]


def test_a_beat_is_offered_two_cycles_after_it_is_taken(core):
    dut = ResultBuffer(core)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.i.payload.z, 5)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        n = 1
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            n += 1
        seen["n"] = n

    _run(dut, [(bench, False)])
    assert seen["n"] == 2


def test_results_with_u_pass_straight_through(core):
    dut = ResultBuffer(core)
    beats = _beats(core, core.slots, 9)
    got = []

    async def bench(ctx):
        ctx.set(dut.i_with_u, 1)
        ctx.set(dut.o_with_u, 1)
        ctx.set(dut.o.ready, 1)
        for z, u in beats:
            ctx.set(dut.i.payload.z, z)
            ctx.set(dut.i.payload.u, u)
            ctx.set(dut.i.valid, 1)
            assert ctx.get(dut.o.valid) and ctx.get(dut.i.ready)      # combinational
            got.append((ctx.get(dut.o.payload.z), ctx.get(dut.o.payload.u)))
            await ctx.tick()
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        assert not ctx.get(dut.i.ready)            # the writer's stall holds the core

    _run(dut, [(bench, False)])
    assert got == beats
