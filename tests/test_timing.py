"""rtl/core/timing.py is the one source of the core's timing. Each block's latency attribute is
measured here in simulation (first beat in -> first beat out, or beats accepted per cycle), so a
block whose pipeline changes without its constant fails here; the cycle model's terms are
derived from the constants (the per-pass overhead is a sum, not a literal)."""
import numpy as np
import pytest
from amaranth import unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from ipvae.golden_model import bundle as bundle_mod
from ipvae.rtl.core import cycle_model, timing
from ipvae.rtl.core.credit_fifo import CreditFifo
from ipvae.rtl.core.drive import FeedForwardDrive
from ipvae.rtl.core.membrane import MembraneUpdate
from ipvae.rtl.core.poisson_sampler import PoissonSampler
from ipvae.rtl.core.poisson_search import PoissonSearch


@pytest.fixture(scope="module")
def fixed():
    return bundle_mod.load(bundle_mod.DEFAULT_BUNDLE).fixed


def _first_beat_latency(dut, beats, setup=None):
    """Cycles from the edge that takes the last of ``beats`` (payload dicts, or plain values) on
    ``dut.i`` to the first cycle ``dut.o`` is valid, counting that cycle (1: valid right after)."""
    got = {}

    async def tb(ctx):
        if setup is not None:
            await setup(ctx)
        ctx.set(dut.o.ready, 1)
        for beat in beats:
            if isinstance(beat, dict):
                for k, v in beat.items():
                    ctx.set(getattr(dut.i.payload, k), v)
            else:
                ctx.set(dut.i.payload, beat)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        n = 1
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            n += 1
        got["latency"] = n

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got["latency"]


def test_membrane_latency_measured(fixed):
    dut = MembraneUpdate(fixed, 4)
    assert _first_beat_latency(dut, [{"prior": 1}]) == MembraneUpdate.latency == timing.MEMBRANE_LATENCY


def test_credit_fifo_latency_measured():
    dut = CreditFifo(data.StructLayout({"x": unsigned(8)}), 4)
    assert _first_beat_latency(dut, [{"x": 5}]) == CreditFifo.latency == timing.FIFO_LATENCY


@pytest.mark.parametrize("form", ["parallel", "search"])
def test_sampler_latency_measured(fixed, form):
    lanes = 4
    dut = (PoissonSampler(fixed.fmt, fixed.table, lanes) if form == "parallel"
           else PoissonSearch(fixed.fmt, fixed.table, lanes, per_cycle=4))

    async def reseed(ctx):
        ctx.set(dut.seed, 1)
        ctx.set(dut.reseed, 1)
        await ctx.tick()
        ctx.set(dut.reseed, 0)

    # u at the lowest code: every lane draws 0 (the search's shortest beat: slot_overhead cycles)
    lo = (-8 << fixed.fmt.u_frac) & ((1 << fixed.fmt.u_bits) - 1)
    u = sum(lo << (p * fixed.fmt.u_bits) for p in range(lanes))
    got = _first_beat_latency(dut, [{"u": u}], setup=reseed)
    if form == "parallel":
        assert got == PoissonSampler.latency == timing.SAMPLER_LATENCY
    else:
        assert got == PoissonSearch.slot_overhead == timing.SEARCH_OVERHEAD


def test_search_beats_per_cycle_measured(fixed):
    """A run of all-zero beats goes through the search sampler one per slot_overhead cycles."""
    lanes, beats = 2, 6
    dut = PoissonSearch(fixed.fmt, fixed.table, lanes, per_cycle=4)
    lo = (-8 << fixed.fmt.u_frac) & ((1 << fixed.fmt.u_bits) - 1)
    taken = []

    async def tb(ctx):
        ctx.set(dut.seed, 3)
        ctx.set(dut.reseed, 1)
        await ctx.tick()
        ctx.set(dut.reseed, 0)
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.payload.u, lo | (lo << fixed.fmt.u_bits))
        ctx.set(dut.i.valid, 1)
        cycle = 0
        while len(taken) < beats:
            if ctx.get(dut.i.ready):
                taken.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert set(np.diff(taken)) == {timing.SEARCH_OVERHEAD}


def test_drive_latency_tail_measured(fixed):
    """The first drive beat is valid N + latency_tail cycles after the last input beat was taken."""
    dut = FeedForwardDrive(fixed, 32)
    got = _first_beat_latency(dut, [(n % 7) - 3 for n in range(fixed.n_inputs)])
    assert got == fixed.n_inputs + FeedForwardDrive.latency_tail + 1
    assert FeedForwardDrive.latency_tail == timing.DRIVE_LATENCY_TAIL


def test_cycle_model_terms_are_derived():
    assert timing.PASS_OVERHEAD == (timing.MEMORY_READ + timing.MEMBRANE_LATENCY + timing.FIFO_LATENCY
                                    + timing.SAMPLER_LATENCY + timing.COUNT_SETTLE) == 7
    assert cycle_model.DRIVE_TAIL == timing.DRIVE_LATENCY_TAIL + timing.DRIVE_OUTPUT_BEAT == 5
    assert timing.LATERAL_HANDOFF == timing.LATERAL_DRAIN_CYCLES + 1 == 3


def test_worst_case_bounds_every_run():
    from ipvae.golden_model.formats import Formats
    from ipvae.golden_model.golden import fold
    from ipvae.golden_model.random_model import random_float_model
    tensors, _ = random_float_model(12, 8, seed=1)
    fx = fold(tensors, Formats())
    from ipvae.rtl.core.config import CoreConfig
    for config in (CoreConfig(fx, 4, search=4), CoreConfig(fx, 2, search=4, lateral_lanes=4)):
        worst = cycle_model.worst_case(config, 5)
        rng = np.random.default_rng(0)
        for _ in range(20):
            z = rng.integers(0, fx.fmt.count_max + 1, size=(6, 8))
            assert cycle_model.core_cycles(config, 5, z) <= worst
        assert cycle_model.core_cycles(config, 5, np.full((6, 8), fx.fmt.count_max)) == worst
    assert cycle_model.worst_case(CoreConfig(fx, 4, search=4), 5) == cycle_model.cycles(
        12, 8, 4, 5, np.full((6, 8), fx.fmt.count_max), 4)
