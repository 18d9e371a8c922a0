"""The sequencers' cycle counts against the cycle model, for every spike pattern (bounded proofs with
ABC's bmc3; docs/formal.md): the fused-lane core's (``SequencerHarness``) and the array core's
(``ArraySequencerHarness``, whose docstring has its recurrence).

A small real fused-lane core (rtl/core/ipvae_core.py: N = 2, K = 4, P = 2, so S = 2 slots, the search
sampler at ``timing.DEFAULT_SEARCH`` thresholds a cycle, T <= 1) runs with everything it reads free:
the input codes (under the stream rules), the seed, T (any constant, clamped by the core to
``max_iterations`` as documented) and the output's sink. The spikes are left to the solver: the
sampler lanes' random numbers are free at every draw (in place of the xorshift generators) and the
sampler reads one row of the Poisson table whose thresholds fall strictly (so every count 0 ..
count_max is drawn by some number); its compares, words and handshakes are the real block's. The
harness watches the sampler's output (one z word a slot) and adds up ``cycle_model.cycles``'s terms
in hardware:

    S N + DRIVE_TAIL
    + per pass t = 0 .. T:        sum_s C_{t,s} + PASS_OVERHEAD,  C = max_p floor(z_p / W) + SEARCH_OVERHEAD,
                                  one less per pass
    + per pass t < T, n_t > 0:    LATERAL_HANDOFF + LATERAL_ENTRY_CYCLES e_t + n_t S

Asserted while the output phase offers a beat: the core's ``cycles`` equals the sum, and every pass
0 .. T was sampled. Bounded: a BMC to ``DEPTH`` cycles covers every inference that ends within it, and
the longest one ends by cycle 63 (reset, two input beats, then 9 + 18 + 15 + 18 cycles at most and the
output's first cycle, when the inputs come back to back); the negative control's counterexample, an
inference at T = 1 with a lateral phase over both slots, shows the harness reaching that far (frame 49).
"""
from __future__ import annotations

import contextlib
import types

import numpy as np
from amaranth import Cat, Elaboratable, Module, Mux, ResetSignal, Signal, Value
from amaranth.hdl import Assert
from amaranth.hdl._ast import AnyConst, AnySeq, Assume, Initial

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core import array_core as array_core_module
from ipvae.rtl.core import cycle_model, timing
from ipvae.rtl.core import ipvae_core as ipvae_core_module
from ipvae.rtl.core import poisson_search as poisson_search_module
from ipvae.rtl.core.array_core import ArrayCore
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.core.lateral import LateralUnits
from ipvae.rtl.core.lateral_array import LateralArray
from ipvae.rtl.core.poisson_search import PoissonSearch

__all__ = ["SequencerHarness", "DEPTH", "SUITE_DEPTH", "LateralSlowOnTwoEntries", "ArraySequencerHarness",
           "ARRAY_DEPTH", "ARRAY_SUITE_DEPTH", "ArraySlowAfterHighCount"]

#: BMC depth: two input beats, the longest inference at T = 1 (drive 9, two passes of at most
#: 18 cycles, a lateral phase of at most 15) and its first output beat, with room for source gaps
DEPTH = 70
#: the default suite's share (``pytest -m slow`` runs DEPTH): every T = 0 inference and the shortest T = 1
#: ones, bmc3 in about 30 s
SUITE_DEPTH = 48


@contextlib.contextmanager
def _swapped(module, **subs):
    """Module-level names of ``module`` replaced for the duration (a block builds its sub-blocks by
    these names, so a harness substitutes one without touching the block's source)."""
    saved = {name: getattr(module, name) for name in subs}
    for name, sub in subs.items():
        setattr(module, name, sub)
    try:
        yield
    finally:
        for name, orig in saved.items():
            setattr(module, name, orig)


class _OneRowFormats(Formats):
    """The formats with a one-row Poisson table: the sampler's row index is a constant."""

    @property
    def table_rows(self):
        return 1


def _free_draw(m, p, *, seed, reseed, step, prob_bits):
    """A sampler lane's random number, any value the solver picks at each step (in place of
    rtl/core/prng.py's generator: same interface, same register timing)."""
    state, rnd = Signal(32, name=f"prng{p}"), Signal(prob_bits, name=f"rnd{p}")
    with m.If(~reseed & step):
        m.d.sync += rnd.eq(AnySeq(prob_bits))
    return state, rnd


class _FreeDrawSearch(PoissonSearch):
    """The search sampler with free random numbers: every spike count its table row allows, in
    any order; its control (compares, words, handshakes) is the real block's."""

    def elaborate(self, platform):
        with _swapped(poisson_search_module, prng_lane=_free_draw):
            return super().elaborate(platform)


def free_search(table):
    """What a harness builds in place of the core's PoissonSearch: the free-draw sampler reading one
    table row (``one_row``) whose thresholds draw every count."""
    row = one_row(table)
    return lambda fmt, table, lanes, per_cycle: _FreeDrawSearch(
        _OneRowFormats(**fmt.to_dict()), table[row:row + 1], lanes, per_cycle)


def one_row(table):
    """The table row the harness's sampler reads: the first whose thresholds fall strictly and end
    above 0, so every count 0 .. count_max is drawn by some random number."""
    for r, row in enumerate(np.asarray(table)):
        if row[-1] > 0 and np.all(np.diff(row) < 0):
            return r
    raise ValueError("no table row draws every count")


class SequencerHarness(Elaboratable):
    """The core's ``cycles`` against the cycle model's sum of the spikes it drew (module docstring), and
    the core's side of the stream contract (``_free_inputs``).
    ``lateral_class``: the LateralUnits the core builds (a broken variant for the negative control)."""

    def __init__(self, lateral_class=None, *, n_inputs=2, n_latents=4, lanes=2, max_iterations=1):
        tensors, _ = random_float_model(n_inputs, n_latents, seed=1)
        self.core = IpvaeCore(CoreConfig(fold(tensors, Formats()), lanes, max_iterations=max_iterations))
        self.lateral_class = lateral_class

    def _elaborate_core(self, platform):
        # the core builds its blocks by these module-level names: for this elaboration only, the sampler
        # reads one row of the table and, for the negative control, the lateral units are the broken
        # variant (the core's source is untouched)
        subs = dict(PoissonSearch=free_search(self.core.fixed.table))
        if self.lateral_class is not None:
            subs["LateralUnits"] = self.lateral_class
        with _swapped(ipvae_core_module, **subs):
            return self.core.elaborate(platform)

    def elaborate(self, platform):
        m = Module()
        core = self.core
        fx, fmt = core.fixed, core.fixed.fmt
        N, K, P, W, T_max = fx.n_inputs, fx.n_latents, core.lanes, core.search, core.max_iterations
        S, cb = K // P, fmt.count_bits
        _check_search(W)
        m.submodules.core = mod = self._elaborate_core(platform)
        core._MustUse__silence = True            # used: its module is the submodule
        samp = mod.submodules.sampler
        last_beat, t_max = _free_inputs(m, core, S)

        # ---------------------------------------------------------------- the model's sum
        expected = Signal(16)
        t, slot = Signal(range(T_max + 2)), Signal(range(max(S, 2)))
        acc, n_sp, e = Signal(8), Signal(range(K + 1)), Signal(range(S + 1))
        loaded = Signal()
        c_s, spiking = _slot_cost(m, samp, P, W, cb)
        n_new, e_new = Signal.like(n_sp), Signal.like(e)
        m.d.comb += [n_new.eq(n_sp + spiking), e_new.eq(e + (spiking != 0))]
        pass_cycles, lateral_cycles = Signal(16), Signal(16)
        spiked = (t < t_max) & (n_new != 0)
        m.d.comb += [pass_cycles.eq(acc + c_s - 1 + timing.PASS_OVERHEAD),
                     lateral_cycles.eq(Mux(spiked, timing.LATERAL_HANDOFF + timing.LATERAL_ENTRY_CYCLES * e_new
                                           + n_new * S, 0))]
        with m.If(last_beat):
            m.d.sync += [expected.eq(S * N + cycle_model.DRIVE_TAIL), t.eq(0), slot.eq(0), acc.eq(0),
                         n_sp.eq(0), e.eq(0), loaded.eq(1)]
        with m.Elif(samp.o.valid):
            with m.If(slot == S - 1):
                m.d.sync += [expected.eq(expected + pass_cycles + lateral_cycles), t.eq(t + 1), slot.eq(0),
                             acc.eq(0), n_sp.eq(0), e.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(acc + c_s), slot.eq(slot + 1), n_sp.eq(n_new), e.eq(e_new)]

        # ---------------------------------------------------------------- the property
        with m.If(core.o.valid):
            m.d.comb += [Assert(loaded), Assert(t == t_max + 1), Assert(core.cycles == expected)]
        return m


#: the array harness's BMC depth: reset, two input beats, the longest inference at T = 1 (80 cycles of
#: cycle_model.array_cycles, spikes 0, 15, 1, 15 then 0, 15, 0, 15) and its first output beat, with room
ARRAY_DEPTH = 88
#: the default suite's share: every T = 0 inference (at most 49 cycles) and its first output beat
ARRAY_SUITE_DEPTH = 56


def _check_search(W):
    if W == timing.PARALLEL_SAMPLER or W & (W - 1):
        raise ValueError("the harness models the search sampler at a power-of-two thresholds per cycle")


def _free_inputs(m, core, slots):
    """Drive the core's inputs with free values (codes under the stream rules, seed, a constant T, the
    output's sink) and assert the core's side of the stream contract that the AXI4-Stream proof
    assumes of it (sim/formal.py, ``core_contract``; ``slots`` output beats a result); returns (the
    cycle the last input beat of an inference is taken, T as clamped)."""
    from ipvae.sim.formal import core_contract, held_until_taken

    m.d.comb += Assume(ResetSignal() == Initial())
    width = len(Value.cast(core.i.payload))
    iv, ip = Signal(name="src_valid"), Signal(width, name="src_payload")
    t_req = Signal.like(core.iterations, name="t_req")
    m.d.comb += [iv.eq(AnySeq(1)), ip.eq(AnySeq(width)), t_req.eq(AnyConst(len(t_req))),
                 core.i.valid.eq(iv), core.i.payload.eq(ip), core.o.ready.eq(AnySeq(1)),
                 core.seed.eq(AnySeq(32)), core.iterations.eq(t_req)]
    held_until_taken(m, iv, core.i.ready, ip, Assume)
    t_max = Signal.like(t_req, name="t_max")
    m.d.comb += t_max.eq(Mux(t_req > core.max_iterations, core.max_iterations, t_req))
    N = core.fixed.n_inputs
    n_in = Signal(range(max(N, 2)), name="contract_n_in")       # counted by core_contract
    core_contract(m, core.i, core.o, N, slots, Assert, loading=Signal(init=1, name="contract_loading"),
                  n_in=n_in, n_out=Signal(range(max(slots, 2)), name="contract_n_out"))
    last_beat = Signal()
    m.d.comb += last_beat.eq(iv & core.i.ready & (n_in == N - 1))
    return last_beat, t_max


def _slot_cost(m, samp, P, W, cb):
    """The sampler's z word: (its cycles C = max_p floor(z_p / W) + SEARCH_OVERHEAD, its spiking lanes)."""
    z = [samp.o.payload.z[p * cb:(p + 1) * cb] for p in range(P)]
    shift = W.bit_length() - 1
    top = z[0] >> shift
    for p in range(1, P):
        top = Mux((z[p] >> shift) > top, z[p] >> shift, top)
    c_s, spiking = Signal(8), Signal(range(P + 1))
    m.d.comb += [c_s.eq(top + timing.SEARCH_OVERHEAD), spiking.eq(sum((zp != 0) for zp in z))]
    return c_s, spiking


def _max(a, b):
    return Mux(a > b, a, b)


class ArraySequencerHarness(Elaboratable):
    """The array core's ``cycles`` against ``cycle_model.array_cycles`` of the spikes it drew.

    A small real ArrayCore (rtl/core/array_core.py: N = 2, K = 4, S = 2 sampler units, L = 2 lateral
    lanes, so n = K/L = 2 words a spike, G = K/S = 2 slots, a column of F in one word (``drive_parts`` = 1),
    the search sampler at ``timing.DEFAULT_SEARCH`` thresholds a cycle, T <= 1), with the same free
    inputs and free spikes as :class:`SequencerHarness`. The harness runs the cycle model's event
    recurrence in hardware as the sampler's z words come out (registers for the pass's first cycle
    p, the read-out's last shift and the last spike's send cycle, and maxima where the model takes
    them):

        c = 2 (ARRAY_DIGIT_OVERHEAD + N n P_d + G + lat) + ARRAY_COMBINE           (after the drive)
        pass t, when pass t-1 spiked:  start = max(c, last_send + n), p = start + lat + READOUT_HANDOFF,
                                       last_send = start + G;  else p = c, no last_send
        slot s:   out_s = p + slot_out_offset + C_0 + ... + C_s
                  with m_s spikes (t < T):  load = out_s + SPIKE_QUEUE_LATENCY,
                      after a spike of this pass:  send = max(max(load, last_send) + 1, last_send + n)
                      else:                        send = max(load + 1, last_send) (load + 1 if none)
                      last_send = send + (m_s - 1) n
        pass end = max(out_{G-1}, last_send if the pass spiked);  c = end + 2

    Asserted while the output phase offers a beat: ``cycles`` equals c, and every pass 0 .. T was
    sampled; always: the core's side of the stream contract (``_free_inputs``). ``array_class``: the
    LateralArray the core builds (a broken variant for the negative control)."""

    def __init__(self, array_class=None, *, n_inputs=2, n_latents=4, lanes=2, lateral_lanes=2, drive_parts=1,
                 max_iterations=1):
        tensors, _ = random_float_model(n_inputs, n_latents, seed=1)
        config = CoreConfig(fold(tensors, Formats()), lanes, lateral_lanes=lateral_lanes, drive_parts=drive_parts,
                            max_iterations=max_iterations)
        with _swapped(array_core_module, **({"LateralArray": array_class} if array_class else {})):
            self.core = ArrayCore(config)       # the core builds its array here, by this module-level name

    def elaborate(self, platform):
        m = Module()
        core = self.core
        config, fx = core.config, core.fixed
        N, K, S, W = fx.n_inputs, fx.n_latents, core.lanes, core.search
        G, n, cb = K // S, K // config.lateral_lanes, fx.fmt.count_bits
        lat = cycle_model.array_latency(config)
        _check_search(W)
        with _swapped(array_core_module, PoissonSearch=free_search(fx.table)):
            m.submodules.core = mod = core.elaborate(platform)
        core._MustUse__silence = True            # used: its module is the submodule
        samp = mod.submodules.sampler
        last_beat, t_max = _free_inputs(m, core, G)

        # ---------------------------------------------------------------- the model's recurrence
        t, slot = Signal(range(core.max_iterations + 2)), Signal(range(max(G, 2)))
        c, p_reg, acc, last = Signal(16), Signal(16), Signal(16), Signal(16)
        prev_spiked, spiked, have_last, loaded = Signal(), Signal(), Signal(), Signal()
        c_s, m_s = _slot_cost(m, samp, S, W, cb)
        first = slot == 0
        start, p_now, out = Signal(16), Signal(16), Signal(16)
        last_now, have_now, spiked_now = Signal(16), Signal(), Signal()
        m.d.comb += [start.eq(Mux(prev_spiked, _max(c, last + n), c)),
                     p_now.eq(Mux(first, Mux(prev_spiked, start + lat + timing.READOUT_HANDOFF, c), p_reg)),
                     last_now.eq(Mux(first, start + G, last)),
                     have_now.eq(Mux(first, prev_spiked, have_last)),
                     spiked_now.eq(Mux(first, 0, spiked))]
        acc_now = Signal(16)
        m.d.comb += [acc_now.eq(Mux(first, 0, acc) + c_s),
                     out.eq(p_now + timing.slot_out_offset(W) + acc_now)]
        load, send, last_new = Signal(16), Signal(16), Signal(16)
        sends = (t < t_max) & (m_s != 0)
        m.d.comb += [load.eq(out + timing.SPIKE_QUEUE_LATENCY),
                     send.eq(Mux(spiked_now, _max(_max(load, last_now) + 1, last_now + n),
                                 Mux(have_now, _max(load + 1, last_now), load + 1))),
                     last_new.eq(Mux(sends, send + (m_s - 1) * n, last_now))]
        spiked_new = spiked_now | sends
        with m.If(last_beat):
            m.d.sync += [c.eq(2 * (timing.ARRAY_DIGIT_OVERHEAD + N * n * config.drive_parts + G + lat)
                              + timing.ARRAY_COMBINE),
                         t.eq(0), slot.eq(0), prev_spiked.eq(0), loaded.eq(1)]
        with m.Elif(samp.o.valid):
            with m.If(slot == G - 1):
                m.d.sync += [c.eq(Mux(spiked_new, _max(out, last_new), out) + 2), t.eq(t + 1), slot.eq(0),
                             prev_spiked.eq(spiked_new), last.eq(last_new)]
            with m.Else():
                m.d.sync += [p_reg.eq(p_now), acc.eq(acc_now), last.eq(last_new), have_last.eq(have_now | sends),
                             spiked.eq(spiked_new), slot.eq(slot + 1)]

        # ---------------------------------------------------------------- the property
        with m.If(core.o.valid):
            m.d.comb += [Assert(loaded), Assert(t == t_max + 1), Assert(core.cycles == c)]
        return m


class ArraySlowAfterHighCount(LateralArray):
    """A broken LateralArray for the negative control: after taking a spike of count 8 or more it
    takes the next event one cycle later than its ``per_lane`` words allow (a data-dependent stall
    the cycle model does not have)."""

    def elaborate(self, platform):
        port = self.spikes
        inner = types.SimpleNamespace(valid=Signal(name="spikes_valid_inner"), payload=port.payload,
                                      ready=Signal(name="spikes_ready_inner"))
        self.spikes = inner                       # the block's own logic takes events from ``inner`` ...
        try:
            m = super().elaborate(platform)
        finally:
            self.spikes = port
        # the cycles after taking such a spike, through the one its words are done (an event every
        # ``per_lane`` cycles), refuse: the next event waits one cycle longer than the array needs
        took_high, since = Signal(), Signal(self.per_lane)
        m.d.comb += took_high.eq(port.valid & port.ready & ~port.payload.drive & (port.payload.z >= 8))
        m.d.sync += since.eq(Cat(took_high, since[:-1]))
        stall = since.any()
        m.d.comb += [inner.valid.eq(port.valid & ~stall), port.ready.eq(inner.ready & ~stall)]
        return m      # ... and the port refuses one cycle beyond the array's own wait


class LateralSlowOnTwoEntries(LateralUnits):
    """A broken LateralUnits for the negative control: ``busy`` stays high one cycle longer after a
    phase with two or more slot entries (a data-dependent cost the cycle model does not have)."""

    def elaborate(self, platform):
        port = self.busy
        inner = Signal(name="busy_inner")
        self.busy = inner                         # the block's own logic drives ``inner`` ...
        try:
            m = super().elaborate(platform)
        finally:
            self.busy = port
        many, was = Signal(), Signal()
        m.d.sync += was.eq(inner)
        with m.If(self.start):
            m.d.sync += many.eq(self.entries >= 2)
        m.d.comb += port.eq(inner | (was & many))  # ... and the port holds it one cycle more
        return m
