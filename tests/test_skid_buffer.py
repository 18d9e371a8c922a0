"""rtl/link/skid_buffer.py: no beat lost, duplicated or reordered under every producer and consumer
stall pattern; an empty buffer adds no latency; ``i.ready`` never follows ``o.ready`` within a
cycle (it is a register)."""
import pytest

from ipvae.sim.amaranth_tb import STALL_PATTERNS, stalls


def run_skid(n_beats, source, sink, seed=0, max_cycles=5_000):
    """Offer beats 0, 1, ... (the producer pauses by ``source``), take them by ``sink``.
    Returns (beats out, cycle each was taken, cycle each was offered-and-taken at the input,
    times ``i.ready`` changed in a cycle because ``o.ready`` did)."""
    from amaranth import unsigned
    from amaranth.lib import data
    from amaranth.sim import Simulator

    from ipvae.rtl.link.skid_buffer import SkidBuffer
    dut = SkidBuffer(data.StructLayout({"v": unsigned(16)}))
    out, when, took, comb = [], [], [], [0]
    src, snk = stalls(source, seed), stalls(sink, seed + 1)

    async def bench(ctx):
        nxt = 0
        offering = False
        for cycle in range(max_cycles):
            if not offering and nxt < n_beats and not next(src):
                offering = True
            ctx.set(dut.i.valid, offering)
            ctx.set(dut.i.payload.v, nxt)
            ctx.set(dut.o.ready, 0)
            ready_lo = ctx.get(dut.i.ready)
            ready = not next(snk)
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.i.ready) != ready_lo:
                comb[0] += 1
            if offering and ctx.get(dut.i.ready):
                took.append(cycle)
                nxt += 1
                offering = False
            if ready and ctx.get(dut.o.valid):
                out.append(ctx.get(dut.o.payload.v))
                when.append(cycle)
            await ctx.tick()
            if len(out) == n_beats:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out, when, took, comb[0]


@pytest.mark.parametrize("sink", STALL_PATTERNS)
@pytest.mark.parametrize("source", ["none", "random", "bursts"])
def test_every_beat_once_in_order(source, sink):
    out, _, _, comb = run_skid(200, source, sink, seed=7)
    assert out == list(range(200))
    assert comb == 0                           # i.ready never moved with o.ready


def test_empty_buffer_adds_no_latency():
    """With the consumer always ready, each beat leaves in the cycle it is offered."""
    out, when, took, _ = run_skid(50, "random", "none", seed=3)
    assert out == list(range(50)) and when == took


def test_a_stalled_beat_waits_in_the_skid():
    """One stall: the beat offered then is taken at the input, held, and leaves when o is ready;
    the producer's next beat is taken the cycle after the skid drains (i.ready is low while it is full)."""
    out, when, took, _ = run_skid(4, "none", iter([False, True, True, False, False, False, False]))
    assert out == [0, 1, 2, 3]
    assert took == [0, 1, 4, 5] and when == [0, 3, 4, 5]
