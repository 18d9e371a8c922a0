"""Per-block Amaranth simulations against small behavioural models from the golden model, with
random input gaps and output backpressure on every stream."""
import numpy as np
import pytest

from golden_model.formats import Formats
from golden_model.golden import fold, update
from golden_model.sampler import PrngLanes, poisson_table, sample_counts
from rtl.membrane import MembraneUpdate
from rtl.poisson_sampler import PoissonSampler, pack
from golden_model.random_model import random_float_model
from tests.core_sim import _unpack
from tests.stream_sim import run_stream_block


def check_sampler_block(block, fmt, lanes, beats_u, seed, stream_seed):
    """Drive a sampler block (reseeded with ``seed``) under stalls; compare every beat with the
    golden model's PRNG lanes + table. Returns the counts."""
    async def setup(ctx):
        ctx.set(block.seed, seed)
        ctx.set(block.reseed, 1)
        await ctx.tick()
        ctx.set(block.reseed, 0)

    out = run_stream_block(block, [dict(u=pack(u, fmt.u_bits)) for u in beats_u], setup=setup, seed=stream_seed)
    assert len(out) == len(beats_u)
    prng = PrngLanes([seed], lanes, fmt.prob_bits)
    zs = []
    for u, o in zip(beats_u, out):
        want = sample_counts(u, prng.uniforms(lanes)[0], block.table, fmt)
        assert _unpack(o["z"], lanes, fmt.count_bits, False) == want.tolist()
        zs.append(want)
    return np.array(zs)


@pytest.mark.parametrize("lanes, fmt", [(4, Formats()), (3, Formats(prob_bits=16, sampler_frac=4)),
                                         (1, Formats(count_bits=3))])
def test_poisson_sampler_matches_model(lanes, fmt):
    rng = np.random.default_rng(lanes)
    beats_u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(120, lanes))
    beats_u[:40] = rng.integers(-3 << fmt.u_frac, 2 << fmt.u_frac, size=(40, lanes))  # where spikes happen
    zs = check_sampler_block(PoissonSampler(fmt, poisson_table(fmt), lanes), fmt, lanes, beats_u, 0xDEADBEEF, lanes)
    assert zs.sum() > 0


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
    assert PoissonSampler.latency == 2 and MembraneUpdate.latency == 2


@pytest.mark.parametrize("n, k, lanes", [(12, 20, 4), (8, 12, 12), (6, 10, 1)])
def test_lateral_units_match_event_driven_model(n, k, lanes):
    """Two phases back to back (the second must overwrite, not add to, the first); spike entries
    arrive with random gaps; busy lasts exactly phase_cycles(e, n) cycles."""
    import random
    from amaranth.sim import Simulator
    from golden_model.golden import lateral_dense
    from rtl.lateral import LateralUnits

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
    pyrng = random.Random(k)
    got = []

    async def bench(ctx):
        for z in phases:
            zs = z.reshape(S, lanes)
            entries = [(s, zs[s]) for s in range(S) if zs[s].any()]
            for s, word in entries:
                while pyrng.random() < 0.3:
                    await ctx.tick()
                ctx.set(block.spikes.payload.z, pack(word, cb))
                ctx.set(block.spikes.payload.slot, s)
                ctx.set(block.spikes.valid, 1)
                await ctx.tick().until(block.spikes.ready)
                ctx.set(block.spikes.valid, 0)
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
    for z, l in zip(phases, got):
        assert np.array_equal(l, lateral_dense(fixed, z[None, :])[0])


@pytest.mark.parametrize("n, k, lanes", [(12, 20, 4), (7, 6, 6), (5, 8, 1)])
def test_feed_forward_drive_matches_model(n, k, lanes):
    """Three inferences through the drive block with random input gaps and output backpressure."""
    from golden_model.golden import drive
    from rtl.drive import FeedForwardDrive
    import random
    from amaranth.sim import Simulator

    tensors, _ = random_float_model(n, k, seed=n + k)
    fixed = fold(tensors, Formats())
    block = FeedForwardDrive(fixed, lanes)
    S, dw = k // lanes, fixed.widths()["drive"]
    rng = np.random.default_rng(n)
    xs = rng.integers(-128, 128, size=(3, n))
    xs[1] = 127  # maximum amplitude
    pyrng = random.Random(n)
    got = []

    async def source(ctx):
        for x in xs:
            for v in x:
                while pyrng.random() < 0.3:
                    await ctx.tick()
                ctx.set(block.i.payload, int(v))
                ctx.set(block.i.valid, 1)
                await ctx.tick().until(block.i.ready)
                ctx.set(block.i.valid, 0)

    async def sink(ctx):
        while len(got) < 3 * S:
            ready = pyrng.random() >= 0.3
            ctx.set(block.o.ready, ready)
            _, _, valid, d = await ctx.tick().sample(block.o.valid, block.o.payload.d)
            if valid and ready:
                got.append(_unpack(int(d), lanes, dw, True))

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    want = drive(fixed, xs)
    assert np.array_equal(np.array(got).reshape(3, k), want)


def test_output_streamer_backpressure_and_back_to_back_runs():
    """Two runs started back to back (the second start coincides with the first done), random
    backpressure: every slot exactly once per run, in order, with the memory word of its slot."""
    import random
    from amaranth.sim import Simulator
    from rtl.output import OutputStreamer

    S = 5
    block = OutputStreamer(S, 8, 16)
    zmem = [0x11 * (s + 1) for s in range(S)]
    umem = [0x1000 + s for s in range(S)]
    rng = random.Random(4)
    got, dones = [], []

    async def memory(ctx):  # the synchronous read ports the core connects
        z, u = 0, 0
        async for _, _, addr, en in ctx.tick().sample(block.addr, block.en):
            if en:
                z, u = zmem[addr % S], umem[addr % S]
            ctx.set(block.z_data, z)
            ctx.set(block.u_data, u)

    async def bench(ctx):
        ctx.set(block.start, 1)
        await ctx.tick()
        ctx.set(block.start, 0)
        runs = 0
        for _ in range(400):
            ready = rng.random() >= 0.4
            ctx.set(block.o.ready, ready)
            done = ctx.get(block.done)
            ctx.set(block.start, int(done and runs == 0))
            if done:
                dones.append(len(got))
                runs += 1
            _, _, valid, slot, z, u = await ctx.tick().sample(block.o.valid, block.o.payload.slot,
                                                               block.o.payload.z, block.o.payload.u)
            if valid and ready:
                got.append((slot, z, u))
            if runs == 2:
                break
        ctx.set(block.start, 0)

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(memory, background=True)
    sim.add_testbench(bench)
    sim.run()
    want = [(s, zmem[s], umem[s]) for s in range(S)]
    assert dones == [S - 1, 2 * S - 1]  # done is high in the cycle the last beat is taken
    assert got == want + want


@pytest.mark.parametrize("lanes, fmt, per_cycle", [(4, Formats(), 4), (3, Formats(prob_bits=16, sampler_frac=4), 1),
                                                    (1, Formats(count_bits=3), 2), (2, Formats(), 16)])
def test_poisson_search_matches_model(lanes, fmt, per_cycle):
    """The search sampler gives the golden model's counts, beat for beat, under stalls."""
    from rtl.poisson_search import PoissonSearch
    rng = np.random.default_rng(lanes + 10)
    beats_u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(120, lanes))
    beats_u[:60] = rng.integers(-3 << fmt.u_frac, 3 << fmt.u_frac, size=(60, lanes))
    zs = check_sampler_block(PoissonSearch(fmt, poisson_table(fmt), lanes, per_cycle), fmt, lanes, beats_u, 77, lanes)
    assert zs.max() == fmt.count_max  # the cap is reached


def test_skid_buffer_preserves_beats_and_registers_ready():
    from amaranth import unsigned
    from amaranth.lib import data
    from rtl.skid import SkidBuffer
    block = SkidBuffer(data.StructLayout({"u": unsigned(12)}))
    beats = [dict(u=(7 * i) % 4096) for i in range(200)]
    out = run_stream_block(block, beats, stall=0.4, seed=3)
    assert out == beats
    # full rate when never stalled: 200 beats in 200 + latency cycles
    assert run_stream_block(block, beats, stall=0.0) == beats


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64])
def test_priority_encoder_finds_lowest_set_bit(n):
    from amaranth import Module, Signal
    from amaranth.sim import Simulator
    from rtl.priority_encoder import index_bits, lowest_set
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
