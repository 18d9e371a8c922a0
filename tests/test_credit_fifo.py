"""rtl/core/credit_fifo.py: a producer issuing on credits through a fixed-latency pipeline never finds
the FIFO full, loses or duplicates no beat under every consumer stall pattern, and with
``timing.issue_credits`` credits runs at the consumer's pace."""

import pytest

from ipvae.rtl.core import timing
from ipvae.sim.amaranth_tb import STALL_PATTERNS, stalls

LAG = timing.MEMORY_READ + timing.MEMBRANE_LATENCY   # the core's issue -> FIFO input pipeline


def run_credited(n_beats, depth, sink="none", seed=0, lag=LAG, max_cycles=20_000):
    """Issue beats 0, 1, ... on credits, delay them ``lag`` cycles, push them into a CreditFifo
    whose consumer stalls by ``sink``. Returns (beats out, cycle of each take, times i.ready
    was low for a valid beat)."""
    from amaranth import Module, Signal, unsigned
    from amaranth.lib import data
    from amaranth.sim import Simulator

    from ipvae.rtl.core.credit_fifo import CreditFifo
    m = Module()
    m.submodules.fifo = fifo = CreditFifo(data.StructLayout({"v": unsigned(16)}), depth)
    in_flight = Signal(range(depth + 1))
    count = Signal(16)
    issue = Signal()
    m.d.comb += issue.eq((in_flight != depth) & (count < n_beats))
    m.d.sync += in_flight.eq(in_flight + issue - fifo.credit)
    valid, value = issue, count
    for k in range(lag):                       # a pipeline that cannot stall
        v, d = Signal(name=f"v{k}"), Signal(16, name=f"d{k}")
        m.d.sync += [v.eq(valid), d.eq(value)]
        valid, value = v, d
    with m.If(issue):
        m.d.sync += count.eq(count + 1)
    m.d.comb += [fifo.i.valid.eq(valid), fifo.i.payload.v.eq(value)]
    out, when, refused = [], [], [0]
    snk = stalls(sink, seed)

    async def bench(ctx):
        for cycle in range(max_cycles):
            ready = not next(snk)
            ctx.set(fifo.o.ready, ready)
            if ctx.get(fifo.i.valid) and not ctx.get(fifo.i.ready):
                refused[0] += 1
            if ready and ctx.get(fifo.o.valid):
                out.append(ctx.get(fifo.o.payload.v))
                when.append(cycle)
            await ctx.tick()
            if len(out) == n_beats:
                return

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out, when, refused[0]


@pytest.mark.parametrize("sink", STALL_PATTERNS)
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_credited_beats_survive_every_stall_pattern(sink, depth):
    out, _, refused = run_credited(150, depth, sink=sink, seed=3)
    assert out == list(range(150))
    assert refused == 0


def test_issue_credits_keep_the_parallel_sampler_at_one_beat_per_cycle():
    depth = timing.issue_credits(timing.PARALLEL_SAMPLER)
    _, when, _ = run_credited(100, depth)
    assert when == list(range(when[0], when[0] + 100))
    assert when[0] == LAG + timing.FIFO_LATENCY
    # one credit fewer and the round trip shows: a bubble every `depth` beats
    _, when, _ = run_credited(100, depth - 1)
    assert when[-1] - when[0] > 99


def test_issue_credits_follow_the_round_trip():
    trip = timing.MEMORY_READ + timing.MEMBRANE_LATENCY + timing.FIFO_LATENCY + timing.CREDIT_RETURN
    assert timing.issue_credits(timing.PARALLEL_SAMPLER) == trip == 5
    assert timing.issue_credits(4) == timing.issue_credits(1) == 2   # the search takes >= 3 cycles a beat


def test_stall_patterns_are_what_they_say():
    take = lambda name: [next(it) for it in [stalls(name)] for _ in range(200)]  # noqa: E731
    assert not any(take("none"))
    assert take("every_other")[:4] == [True, False, True, False]
    assert take("bursts")[:8] == [False] * 3 + [True] * 5
    assert sum(take("long")[:100]) == 40 and not any(take("long")[:60])
    r = take("random")
    assert 30 < sum(r) < 90 and r == take("random")          # p = 0.3, and seeded
