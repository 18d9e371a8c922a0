"""rtl/core/lateral_array.py: the neuron-parallel lateral engine against the golden model's
lateral sums (docs/arithmetic.md §4, 3b), with the spikes arriving under the stall patterns, one
and two neurons per lane, and its latency measured to the cycle (a sum is not there one cycle
before ``latency`` and is there at it)."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.lateral_array import LateralArray
from ipvae.rtl.core.timing import broadcast_levels
from ipvae.sim.amaranth_tb import stalls


@pytest.fixture(scope="module")
def fixed():
    tensors, _ = random_float_model(12, 40, seed=4)
    return fold(tensors, Formats())


def _signed(word, n, width):
    vals = [(word >> (k * width)) & ((1 << width) - 1) for k in range(n)]
    return [v - (1 << width) if v >> (width - 1) else v for v in vals]


def _phases(K, count_max, seed, n=3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        j = np.sort(rng.choice(K, size=int(rng.integers(1, K // 2)), replace=False))
        out.append([(int(a), int(rng.integers(1, count_max + 1))) for a in j])
    return out


async def _send_phase(ctx, dut, events, pauses, steps):
    """One phase of events (j, z, drive), the first opening it, under ``pauses``; then wait until
    its last event (``steps`` cycles a beat) is in the sums."""
    for i, (j, z, drive) in enumerate(events):
        while next(pauses):
            await ctx.tick()
        ctx.set(dut.spikes.payload.j, j)
        ctx.set(dut.spikes.payload.z, z)
        ctx.set(dut.spikes.payload.first, i == 0)
        ctx.set(dut.spikes.payload.drive, drive)
        ctx.set(dut.spikes.valid, 1)
        await ctx.tick().until(dut.spikes.ready)
        ctx.set(dut.spikes.valid, 0)
    for _ in range(dut.latency + steps - 1):
        await ctx.tick()


async def _read_all(ctx, dut, K):
    """Every sum in index order through head, K / G shifts (each waits out the latency)."""
    got = []
    G = dut.gather_lanes
    for _ in range(K // G):
        got += _signed(ctx.get(dut.head), G, dut.lateral_bits)
        ctx.set(dut.shift, 1)
        await ctx.tick().until(dut.shift_ready)
        ctx.set(dut.shift, 0)
        for _ in range(dut.latency):
            await ctx.tick()
    return got


@pytest.mark.parametrize("lanes, tile, pattern", [(40, 36, "none"), (40, 7, "random"), (20, 6, "every_other"),
                                                  (10, 4, "bursts"), (40, 40, "long")])
def test_sums_equal_the_golden_model(fixed, lanes, tile, pattern):
    K = fixed.n_latents
    dut = LateralArray(fixed, lanes, tile_lanes=tile, gather_lanes=8)
    phases = _phases(K, fixed.fmt.count_max, lanes + tile)
    seen = []

    async def tb(ctx):
        pauses = stalls(pattern, seed=lanes)
        for spikes in phases:
            await _send_phase(ctx, dut, [(j, z, 0) for j, z in spikes], pauses, dut.per_lane)
            seen.append(await _read_all(ctx, dut, K))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    for spikes, got in zip(phases, seen):
        want = np.zeros(K, np.int64)
        for j, z in spikes:
            want += z * fixed.W[:, j]
        assert got == want.tolist()


def test_latency_to_the_cycle(fixed):
    """One spike of neuron j: head (neurons 0..G-1) changes exactly latency cycles after the edge
    that took it, not one cycle sooner; a shift the same."""
    K, G = fixed.n_latents, 8
    dut = LateralArray(fixed, K, tile_lanes=36, gather_lanes=G)
    j = int(np.argmax(np.abs(fixed.W[:G]).min(axis=0)))    # a column whose first G weights are all non-zero
    trace = {}

    async def tb(ctx):
        ctx.set(dut.spikes.payload.j, j)
        ctx.set(dut.spikes.payload.z, 3)
        ctx.set(dut.spikes.payload.first, 1)
        ctx.set(dut.spikes.valid, 1)
        await ctx.tick().until(dut.spikes.ready)
        ctx.set(dut.spikes.valid, 0)
        heads = []
        for _ in range(dut.latency + 2):
            heads.append(_signed(ctx.get(dut.head), G, dut.lateral_bits))
            await ctx.tick()
        trace["spike"] = heads
        ctx.set(dut.shift, 1)
        await ctx.tick().until(dut.shift_ready)
        ctx.set(dut.shift, 0)
        heads = []
        for _ in range(dut.latency + 2):
            heads.append(_signed(ctx.get(dut.head), G, dut.lateral_bits))
            await ctx.tick()
        trace["shift"] = heads

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    want = (3 * fixed.W[:, j]).tolist()
    h = trace["spike"]
    assert h[dut.latency - 1] != want[:G] and h[dut.latency] == want[:G]
    s = trace["shift"]
    assert s[dut.latency - 1] == want[:G] and s[dut.latency] == want[G:2 * G]
    assert dut.latency == broadcast_levels(2) + 4 + dut.product_levels


def test_parameter_errors(fixed):
    with pytest.raises(ParameterError, match="lateral lanes must divide K = 40, got 3"):
        LateralArray(fixed, 3)
    with pytest.raises(ParameterError, match="gather_lanes must divide K = 40, got 7"):
        LateralArray(fixed, 40, gather_lanes=7)
    with pytest.raises(ParameterError, match="tile_lanes must be positive, got 0"):
        LateralArray(fixed, 40, tile_lanes=0, gather_lanes=8)


@pytest.mark.parametrize("lanes, parts, pattern", [(40, 1, "none"), (40, 2, "random"), (20, 2, "bursts"),
                                                   (40, 3, "every_other")])
def test_drive_events_sum_columns_of_f(fixed, lanes, parts, pattern):
    """Drive events: sum_n digit_n F[:, n] over the inputs, a column of F in ``parts`` words, then
    a W phase on the same sums' registers (the first event of each phase overwrites)."""
    K, N = fixed.n_latents, fixed.n_inputs
    dut = LateralArray(fixed, lanes, tile_lanes=9, gather_lanes=8, drive_parts=parts)
    rng = np.random.default_rng(parts * 7 + lanes)
    digits = [int(v) for v in rng.integers(0, 16, size=N)]
    spikes = _phases(K, fixed.fmt.count_max, 11, n=1)[0]
    seen = []

    async def tb(ctx):
        pauses = stalls(pattern, seed=parts)
        await _send_phase(ctx, dut, [(n, d, 1) for n, d in enumerate(digits)], pauses, dut.per_lane * parts)
        seen.append(await _read_all(ctx, dut, K))
        await _send_phase(ctx, dut, [(j, z, 0) for j, z in spikes], pauses, dut.per_lane * parts)
        seen.append(await _read_all(ctx, dut, K))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen[0] == (fixed.F.astype(np.int64) @ np.array(digits)).tolist()
    want = np.zeros(K, np.int64)
    for j, z in spikes:
        want += z * fixed.W[:, j]
    assert seen[1] == want.tolist()
