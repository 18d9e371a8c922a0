"""The iP-VAE inference core: docs/arithmetic.md in Amaranth, bit-exact with golden_model/golden.py."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.golden import FixedModel
from ipvae.golden_model.layout import pack

from . import cycle_model, timing
from .bits import index_bits, value_bits
from .config import CoreConfig
from .credit_fifo import CreditFifo
from .drive import FeedForwardDrive
from .lateral import LateralUnits
from .membrane import MembraneUpdate
from .output import OutputStreamer
from .poisson_sampler import PoissonSampler
from .poisson_search import PoissonSearch

__all__ = ["IpvaeCore"]


class IpvaeCore(wiring.Component):
    """The iP-VAE inference core: docs/arithmetic.md in Amaranth, bit-exact with golden_model/golden.py.

    Members
    -------
    i : In(stream.Signature(signed(input_bits)))
        N input codes per inference, in pixel order; gaps allowed. The last beat starts the run.
    o : Out(stream.Signature(OutputLayout))
        K/P beats per inference, slot s = 0 .. K/P-1: the output counts z and final u of neurons
        s P + p in lane p (z in the low bits). Tolerates backpressure.
    trace : Out(stream.Signature(TraceLayout))   (only with ``trace=True``)
        K/P beats after every sampling pass t = 0 .. T: iteration t, slot, z(t) and u(t).
    iterations : In(unsigned)   T, sampled with the last input beat (0 .. max_iterations).
    seed : In(unsigned(32))     PRNG seed, sampled with the last input beat.
    cycles : Out(unsigned(32))  compute cycles of the last inference (rtl/core/cycle_model.py).
    busy : Out(1)
    load : In(stream.Signature(LoadLayout))   (only with ``weights="ram"``)
        Run-time weight loading: ``matrix`` 0 writes word ``addr`` of F (addr = s N + n), 1 of W
        (addr = j K/P + s); lane p's weight in bits p*weight_bits. Ready only between inferences
        (before the first input beat), so a run never sees half-loaded weights.

    Timing: ``cycles_for(T, z)`` (rtl/core/cycle_model.py) counts from the cycle after the last input
    beat to the output phase; the first output beat follows 2 cycles later, then K/P beats.
    Phases: FeedForwardDrive (K/P N + cycle_model.DRIVE_TAIL cycles) -> T+1 sampling passes (memory read,
    MembraneUpdate, CreditFifo, sampler: the sampler's cycles per slot + PASS_OVERHEAD; the pass
    issues a slot only with a credit, timing.issue_credits(search) of them) -> between
    passes the event-driven LateralUnits phase (K/P cycles per spiking neuron, LATERAL_ENTRY_CYCLES per
    non-empty slot, LATERAL_HANDOFF to hand back).

    Parameters
    ----------
    config : CoreConfig
        What to build (rtl/core/config.py): the model, lanes, sampler, weight placement, trace,
        T limit. A FixedModel with ``lanes`` and keywords is accepted and turned into one.
    """
    def __init__(self, config: CoreConfig | FixedModel, lanes: int | None = None, **kw):
        """``IpvaeCore(CoreConfig(...))``, or the same keywords: ``IpvaeCore(fixed, lanes, max_iterations=...,
        trace=..., search=..., weights=...)`` (rtl/core/config.py documents and checks them)."""
        if not isinstance(config, CoreConfig):
            config = CoreConfig(config, lanes, **kw)
        elif lanes is not None or kw:
            raise TypeError("give a CoreConfig or the keywords, not both")
        self.config = config
        fixed, lanes, max_iterations, trace = config.fixed, config.lanes, config.max_iterations, config.trace
        self.weights, self.search = config.weights, config.search
        self.fixed, self.lanes, self.max_iterations, self.has_trace = fixed, lanes, max_iterations, trace
        fmt = fixed.fmt
        self.slots = fixed.n_latents // lanes
        p, s = lanes, self.slots
        self.output_layout = data.StructLayout({"z": unsigned(p * fmt.count_bits), "u": unsigned(p * fmt.u_bits)})
        self.trace_layout = data.StructLayout({
            "iteration": unsigned(value_bits(max_iterations)),
            "slot": unsigned(index_bits(s)),
            "z": unsigned(p * fmt.count_bits), "u": unsigned(p * fmt.u_bits)})
        members = {
            "i": In(stream.Signature(signed(fmt.input_bits))),
            "o": Out(stream.Signature(self.output_layout)),
            "iterations": In(unsigned(value_bits(max_iterations))),
            "seed": In(unsigned(32)),
            "cycles": Out(unsigned(32)),
            "busy": Out(1),
        }
        if trace:
            members["trace"] = Out(stream.Signature(self.trace_layout))
        if self.weights == "ram":
            depth = max(fixed.n_inputs, fixed.n_latents) * self.slots
            self.load_layout = data.StructLayout({
                "matrix": unsigned(1), "addr": unsigned(index_bits(depth)),
                "data": unsigned(lanes * fmt.weight_bits)})
            members["load"] = In(stream.Signature(self.load_layout))
        super().__init__(members)

    def cycles_for(self, iterations, z_passes):
        """Exact compute cycles for a run (see rtl/core/cycle_model.py); z_passes: (T+1, K) counts."""
        return cycle_model.cycles(self.fixed.n_inputs, self.fixed.n_latents, self.lanes, iterations, z_passes,
                                  per_cycle=self.search)

    def elaborate(self, platform):
        m = Module()
        fx, fmt, P, S = self.fixed, self.fixed.fmt, self.lanes, self.slots
        N = fx.n_inputs
        ub, cb, dw = fmt.u_bits, fmt.count_bits, fx.widths()["drive"]

        # ---------------------------------------------------------------- memories
        def mem(name, width, depth, init=None):
            m.submodules[name] = mm = memory.Memory(shape=unsigned(width), depth=depth, init=init or [])
            return mm

        d_mem = mem("d_mem", P * dw, S)
        # u (words 0 .. S-1, written every pass) and the prior u0 (words S .. 2S-1, never written)
        # share one memory and one read port: a pass reads one or the other, the output phase
        # reads u when no pass runs. On block RAM that is half the u0 + u + output-copy cost.
        u_mem = mem("u_mem", P * ub, 2 * S, [0] * S + [pack(fx.u0[s * P:(s + 1) * P], ub) for s in range(S)])
        z_mem = mem("z_mem", P * cb, S)

        d_wr, d_rd = d_mem.write_port(), d_mem.read_port()
        u_wr = u_mem.write_port()
        u_rd = u_mem.read_port()
        streaming = Signal()             # OUTPUT / TRACE: the streamer owns u_rd
        m.submodules.streamer = st = OutputStreamer(S, P * cb, P * ub)
        z_wr = z_mem.write_port()
        z_rd_o = z_mem.read_port()

        # ---------------------------------------------------------------- state
        t_max = Signal.like(self.iterations)
        t_cur = Signal.like(self.iterations)
        cycles = Signal(32)
        m.d.comb += self.cycles.eq(cycles)

        # input counter
        n_in = Signal(range(N + 1))
        # pass issue counter, lateral flag
        ps_s = Signal(range(S + 1))
        ps_last = Signal()               # ps_s is the pass's last slot (registered: no compare on the enables)
        lat_valid = Signal()
        u_count = Signal(range(S + 1))   # membrane outputs written this pass (= slot of the next one)
        z_count = Signal(range(S + 1))   # sampler outputs written this pass
        is_trace = Signal()

        # ---------------------------------------------------------------- drive
        m.submodules.drive = drive = FeedForwardDrive(fx, P, self.weights)
        d_count = Signal(range(S + 1))
        m.d.comb += [d_wr.addr.eq(d_count), d_wr.data.eq(drive.o.payload.d)]

        # ---------------------------------------------------------------- sampling pass pipeline
        # issue (read u/u0/d/l) -> MembraneUpdate (1) -> write u, PoissonSampler (2) -> write z, spike list
        m.submodules.membrane = memb = MembraneUpdate(fx, P)
        if self.search == timing.PARALLEL_SAMPLER:
            m.submodules.sampler = samp = PoissonSampler(fmt, fx.table, P)
        else:
            m.submodules.sampler = samp = PoissonSearch(fmt, fx.table, P, self.search)
        m.submodules.lateral = lat = LateralUnits(fx, P, self.weights)
        if self.weights == "ram":
            # loads only between inferences: in LOAD before the first input beat, never in flight
            between = Signal()
            to_w = self.load.payload.matrix
            for unit, sel in ((drive, ~to_w), (lat, to_w)):
                m.d.comb += [unit.load.payload.addr.eq(self.load.payload.addr),
                             unit.load.payload.data.eq(self.load.payload.data),
                             unit.load.valid.eq(self.load.valid & between & sel)]
            m.d.comb += self.load.ready.eq(between & Mux(to_w, lat.load.ready, drive.load.ready))
        # credit-issued pass: a slot is read only while the FIFO in front of the sampler has room
        # for it, so the memory read and the update never stall (no enable fans out over them)
        # and the sampler's ready reaches only the credit counter (rtl/core/credit_fifo.py)
        credits = timing.issue_credits(self.search)
        m.submodules.fifo = fifo = CreditFifo(memb.o.payload.shape(), credits)
        issue_pass = Signal()
        first_pass = Signal()
        in_flight = Signal(range(credits + 1))   # slots issued whose beat the sampler has not taken
        issue = Signal()
        pv1 = Signal()                   # memory data of the slot issued last cycle is valid
        m.d.comb += issue.eq(issue_pass & (in_flight != credits))
        m.d.sync += [pv1.eq(issue), in_flight.eq(in_flight + issue - fifo.credit)]
        m.d.comb += [u_rd.addr.eq(Mux(streaming, st.addr, Mux(first_pass, ps_s + S, ps_s))),
                     u_rd.en.eq(Mux(streaming, st.en, 1)),
                     d_rd.addr.eq(ps_s), lat.l_addr.eq(ps_s)]
        m.d.comb += [
            memb.i.valid.eq(pv1),
            memb.i.payload.u.eq(u_rd.data),
            memb.i.payload.d.eq(d_rd.data), memb.i.payload.l.eq(lat.l_data),
            memb.i.payload.prior.eq(first_pass), memb.i.payload.lateral.eq(lat_valid),
            memb.o.ready.eq(1),
            u_wr.addr.eq(u_count), u_wr.en.eq(memb.o.valid), u_wr.data.eq(memb.o.payload.u),
            fifo.i.valid.eq(memb.o.valid), fifo.i.payload.eq(memb.o.payload),
            samp.i.valid.eq(fifo.o.valid), samp.i.payload.eq(fifo.o.payload), fifo.o.ready.eq(samp.i.ready),
            samp.o.ready.eq(1), samp.seed.eq(self.seed),
        ]
        with m.If(memb.o.valid):
            m.d.sync += u_count.eq(u_count + 1)
        zword = samp.o.payload.z
        m.d.comb += [z_wr.addr.eq(z_count), z_wr.en.eq(samp.o.valid), z_wr.data.eq(zword),
                     # the output pass (t = T) drives no lateral phase: its spikes are not queued
                     lat.spikes.valid.eq(samp.o.valid & zword.any() & (t_cur != t_max)),
                     lat.spikes.payload.z.eq(zword), lat.spikes.payload.slot.eq(z_count)]
        with m.If(samp.o.valid):
            m.d.sync += z_count.eq(z_count + 1)

        # ---------------------------------------------------------------- output / trace streamer
        m.d.comb += [z_rd_o.addr.eq(st.addr), z_rd_o.en.eq(st.en),
                     st.z_data.eq(z_rd_o.data), st.u_data.eq(u_rd.data),
                     self.o.payload.z.eq(st.o.payload.z), self.o.payload.u.eq(st.o.payload.u),
                     self.o.valid.eq(st.o.valid & ~is_trace)]
        if self.has_trace:
            m.d.comb += [self.trace.payload.z.eq(st.o.payload.z), self.trace.payload.u.eq(st.o.payload.u),
                         self.trace.payload.iteration.eq(t_cur), self.trace.payload.slot.eq(st.o.payload.slot),
                         self.trace.valid.eq(st.o.valid & is_trace),
                         st.o.ready.eq(Mux(is_trace, self.trace.ready, self.o.ready))]
        else:
            m.d.comb += st.o.ready.eq(self.o.ready)

        def start_pass(t_next, first):
            m.d.sync += [ps_s.eq(0), ps_last.eq(S == 1), u_count.eq(0), z_count.eq(0), t_cur.eq(t_next),
                         first_pass.eq(first)]

        def after_pass():
            with m.If(t_cur == t_max):
                m.d.comb += st.start.eq(1)
                m.next = "OUTPUT"
            with m.Elif(lat.entries == 0):
                m.d.sync += lat_valid.eq(0)
                start_pass(t_cur + 1, 0)
                m.next = "PASS"
            with m.Else():
                m.d.comb += lat.start.eq(1)
                m.d.sync += lat_valid.eq(1)
                m.next = "LATERAL"

        # ---------------------------------------------------------------- sequencer
        with m.FSM():
            with m.State("LOAD"):
                if self.weights == "ram":
                    m.d.comb += between.eq(n_in == 0)
                m.d.comb += [drive.i.valid.eq(self.i.valid), drive.i.payload.eq(self.i.payload),
                             self.i.ready.eq(drive.i.ready)]
                if self.config.reseed_wait:
                    # the generators load the seed in every cycle that waits for the last code, so the
                    # last load is the seed of the handshake cycle; the reseed comes from registers, not
                    # from the producer's valid (it reaches every lane's 32-bit generator)
                    m.d.comb += samp.reseed.eq(n_in == N - 1)
                with m.If(self.i.valid & drive.i.ready):
                    m.d.sync += n_in.eq(n_in + 1)
                    with m.If(n_in == N - 1):
                        m.d.sync += [n_in.eq(0), d_count.eq(0), cycles.eq(0),
                                     t_max.eq(Mux(self.iterations > self.max_iterations, self.max_iterations,
                                                  self.iterations))]
                        if not self.config.reseed_wait:
                            m.d.comb += samp.reseed.eq(1)
                        m.next = "DRIVE"
            with m.State("DRIVE"):
                m.d.comb += [self.busy.eq(1), drive.o.ready.eq(1), d_wr.en.eq(drive.o.valid)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(drive.o.valid):
                    m.d.sync += d_count.eq(d_count + 1)
                    with m.If(d_count == S - 1):
                        start_pass(0, 1)
                        m.next = "PASS"
            with m.State("PASS"):
                m.d.comb += [self.busy.eq(1), issue_pass.eq(1)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(issue):
                    m.d.sync += [ps_s.eq(ps_s + 1), ps_last.eq(ps_s == S - 2)]
                    with m.If(ps_last):
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(z_count == S):
                    if self.has_trace:
                        m.d.comb += st.start.eq(1)
                        m.d.sync += is_trace.eq(1)
                        m.next = "TRACE"
                    else:
                        after_pass()
            if self.has_trace:
                with m.State("TRACE"):
                    m.d.comb += [self.busy.eq(1), streaming.eq(1)]
                    with m.If(st.done):
                        m.d.sync += is_trace.eq(0)
                        after_pass()
            with m.State("LATERAL"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(~lat.busy):
                    start_pass(t_cur + 1, 0)
                    m.next = "PASS"
            with m.State("OUTPUT"):
                m.d.comb += [self.busy.eq(1), streaming.eq(1)]
                with m.If(st.done):
                    m.next = "LOAD"
        return m
