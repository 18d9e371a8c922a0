"""The iP-VAE inference core around a neuron-parallel lateral array (issue 23's architecture)."""
from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import signed_bits
from ipvae.golden_model.layout import pack

from . import timing
from .bits import index_bits, value_bits
from .config import CoreConfig
from .credit_fifo import CreditFifo
from .fanout import copy_of, lane_copies
from .lateral_array import LateralArray
from .membrane import MembraneUpdate, shift_round
from .output import OutputStreamer
from .poisson_sampler import PoissonSampler
from .poisson_search import PoissonSearch
from .priority_encoder import lowest_set

__all__ = ["ArrayCore", "DIGIT_BITS"]

#: the input codes reach the lanes as 4-bit digits (two per 8-bit code), the lanes' count width
DIGIT_BITS = 4


class ArrayCore(wiring.Component):
    """The iP-VAE inference core with its lateral step on L neuron-parallel lanes and its update and
    sampling on S decoupled units (docs/arithmetic.md, bit-exact with the golden model run at S lanes).

    One :class:`~ipvae.rtl.core.lateral_array.LateralArray` of L lanes holds F and W once, at full
    read width in tiles of block RAM, and does both matrix products: the drive d = F x as events of
    4-bit digits of the codes (the high digit offset by 8, so every digit is unsigned, and the
    offset's exact correction 128 sum_n F[i, n] subtracted per neuron), and each lateral phase
    l = sum_j z_j W[:, j] as one event per spiking neuron, one a cycle. The S update-and-sample
    units are today's blocks (MembraneUpdate, CreditFifo, the samplers) at S lanes: the array's
    sums reach them through rotation read-outs of S sums a cycle into small buffers, and their
    spikes reach the array through a serialiser, one spike a cycle, while the pass still samples.

    Members
    -------
    i : In(stream.Signature(signed(input_bits)))
        N input codes per inference; the last starts the run (T and the seed are taken with it).
    o : Out(stream.Signature(StructLayout({"z", "u"})))
        K/S beats per inference: z and the final u of neurons g S .. g S + S - 1 in beat g.
    trace : Out(stream.Signature(StructLayout({"iteration", "slot", "z", "u"})))  (``trace=True``)
        K/S beats after every sampling pass t = 0 .. T.
    iterations : In(unsigned); seed : In(unsigned(32)); cycles : Out(unsigned(32)); busy : Out(1)
        As :class:`~ipvae.rtl.core.ipvae_core.IpvaeCore`'s.

    Timing: ``cycles_for(T, z)`` (:func:`ipvae.rtl.core.cycle_model.array_cycles`) counts from the
    cycle after the last input beat to the output phase: the drive (two digit phases of N events,
    ``drive_parts`` cycles each, and two read-outs), then per pass its read-out (when the pass
    before spiked), its sampling, and the drain of its spikes into the array.

    Parameters
    ----------
    config : CoreConfig
        ``lanes`` is S (sampler units, the read-out width), ``lateral_lanes`` L, ``drive_parts``
        and ``tile_lanes`` the array's F width and tiles; the weights are block-RAM ROMs.
    """

    def __init__(self, config: CoreConfig):
        if not isinstance(config, CoreConfig):
            raise ParameterError(f"ArrayCore takes a CoreConfig, got {type(config).__name__}")
        fx, fmt = config.fixed, config.fixed.fmt
        if not config.lateral_lanes:
            raise ParameterError("ArrayCore needs lateral_lanes (L) in its CoreConfig")
        if config.lanes > config.lateral_lanes:
            raise ParameterError(f"ArrayCore needs S = lanes ({config.lanes}) <= lateral_lanes "
                                 f"({config.lateral_lanes}): a read-out's K/S groups cover the K/L words of the "
                                 "last spike")
        if config.weights != "rom":
            raise ParameterError("ArrayCore holds F and W as block-RAM ROMs (weights='rom')")
        if fmt.count_bits != DIGIT_BITS or fmt.input_bits > 2 * DIGIT_BITS:
            raise ParameterError(f"ArrayCore feeds each code as two {DIGIT_BITS}-bit digits through the lanes' "
                                 f"count multipliers: it needs count_bits = {DIGIT_BITS} and input_bits <= "
                                 f"{2 * DIGIT_BITS} (got {fmt.count_bits} and {fmt.input_bits})")
        self.config = config
        self.fixed, self.lanes, self.max_iterations = fx, config.lanes, config.max_iterations
        self.search, self.weights, self.has_trace = config.search, config.weights, config.trace
        self.slots = fx.n_latents // config.lanes
        self.array = LateralArray(fx, config.lateral_lanes, tile_lanes=config.tile_lanes,
                                  gather_lanes=config.lanes, drive_parts=config.drive_parts)
        p, s = config.lanes, self.slots
        self.output_layout = data.StructLayout({"z": unsigned(p * fmt.count_bits), "u": unsigned(p * fmt.u_bits)})
        self.trace_layout = data.StructLayout({
            "iteration": unsigned(value_bits(self.max_iterations)), "slot": unsigned(index_bits(s)),
            "z": unsigned(p * fmt.count_bits), "u": unsigned(p * fmt.u_bits)})
        members = {
            "i": In(stream.Signature(signed(fmt.input_bits))),
            "o": Out(stream.Signature(self.output_layout)),
            "iterations": In(unsigned(value_bits(self.max_iterations))),
            "seed": In(unsigned(32)),
            "cycles": Out(unsigned(32)),
            "busy": Out(1),
        }
        if self.has_trace:
            members["trace"] = Out(stream.Signature(self.trace_layout))
        super().__init__(members)

    def cycles_for(self, iterations, z_passes):
        """Exact compute cycles of a run (rtl/core/cycle_model.py); z_passes: (T+1, K) counts."""
        from . import cycle_model
        return cycle_model.array_cycles(self.config, iterations, z_passes)

    def drive_constants(self):
        """Per neuron, the drive's exact offset correction 128 sum_n F[i, n] (the high digit is sent
        as hi + 8) and c_i: the words of the combine ROM (lane s of word g: neuron g S + s)."""
        fx = self.fixed
        corr = (8 << DIGIT_BITS) * fx.F.astype(np.int64).sum(axis=1)
        cw = signed_bits(int(corr.min()), int(corr.max()))
        bw = signed_bits(int(fx.c.min()), int(fx.c.max()))
        return corr, cw, bw

    def elaborate(self, platform):
        m = Module()
        fx, fmt, S, G = self.fixed, self.fixed.fmt, self.lanes, self.slots
        N = fx.n_inputs
        ub, cb, dw = fmt.u_bits, fmt.count_bits, fx.widths()["drive"]
        m.submodules.array = arr = self.array
        lb = arr.lateral_bits
        lat_cycles = arr.latency

        def mem(name, width, depth, init=None):
            m.submodules[name] = mm = memory.Memory(shape=unsigned(width), depth=depth, init=init or [])
            return mm

        # ---------------------------------------------------------------- memories
        x_mem = mem("x_mem", 8, N)
        x_wr, x_rd = x_mem.write_port(), x_mem.read_port()
        a_mem = mem("a_mem", S * lb, G)                     # the high digits' sums, until the low ones arrive
        a_wr, a_rd = a_mem.write_port(), a_mem.read_port()
        corr, cw, bw = self.drive_constants()
        k_mem = mem("k_mem", S * (cw + bw), G,
                    [int(sum(((int(corr[g * S + s]) & ((1 << cw) - 1)) | ((int(fx.c[g * S + s]) & ((1 << bw) - 1))
                                                                            << cw)) << (s * (cw + bw))
                             for s in range(S))) for g in range(G)])
        k_rd = k_mem.read_port()
        d_mem = mem("d_mem", S * dw, G)
        d_wr, d_rd = d_mem.write_port(), d_mem.read_port()
        lw = fx.widths()["lateral"]                      # l fits its exact bound (the array's sums may be wider)
        l_mem = mem("l_mem", S * lw, G)
        l_wr, l_rd = l_mem.write_port(), l_mem.read_port()
        u_mem = mem("u_mem", S * ub, 2 * G, [0] * G + [pack(fx.u0[g * S:(g + 1) * S], ub) for g in range(G)])
        u_wr, u_rd = u_mem.write_port(), u_mem.read_port()
        z_mem = mem("z_mem", S * cb, G)
        z_wr, z_rd_o = z_mem.write_port(), z_mem.read_port()
        m.submodules.streamer = st = OutputStreamer(G, S * cb, S * ub)
        streaming = Signal()

        # ---------------------------------------------------------------- state
        t_max = Signal.like(self.iterations)
        t_cur = Signal.like(self.iterations)
        cycles = Signal(32)
        m.d.comb += self.cycles.eq(cycles)
        n_in = Signal(range(N + 1))
        is_trace = Signal()

        # ---------------------------------------------------------------- read-out capture
        # a shift issued in cycle c shows its group in ``head`` at c + latency (docs: LateralArray)
        shift_issue = Signal()
        m.d.comb += arr.shift.eq(shift_issue)
        issued = Signal()
        m.d.comb += issued.eq(shift_issue & arr.shift_ready)
        delay = [issued]
        for k in range(lat_cycles):
            r = Signal(name=f"cap_d{k + 1}")
            m.d.sync += r.eq(delay[-1])
            delay.append(r)
        capture = delay[-1]
        shifts = Signal(range(G + 1))                    # shifts issued in this read-out
        got = Signal(range(G + 1))                       # groups captured
        got_next = Signal.like(got)                      # its value next cycle (start_readout clears it)
        with m.If(issued):
            m.d.sync += shifts.eq(shifts + 1)
        m.d.comb += got_next.eq(Mux(capture, got + 1, got))
        m.d.sync += got.eq(got_next)
        readout = Signal()                               # what the captured groups are for
        mode = Signal(2)                                 # 0: l, 1: high digits, 2: low digits (combine)
        m.d.comb += shift_issue.eq(readout & (shifts != G))
        with m.If(readout & (shifts == G) & (got == G)):
            m.d.sync += readout.eq(0)
        m.d.comb += [l_wr.addr.eq(got), l_wr.data.eq(Cat(*[arr.head.word_select(s, lb)[:lw] for s in range(S)])),
                     l_wr.en.eq(capture & (mode == 0)),
                     a_wr.addr.eq(got), a_wr.data.eq(arr.head), a_wr.en.eq(capture & (mode == 1))]

        # combine (low digits): d = shift_round(16 (A_hi' ) - 128 R + A_lo, drive_shift) - c, registered.
        # The LUT memories read group got (got + 1 in a capture cycle, for the next capture) from an
        # address register set a cycle ahead (the delay line's stage before ``capture`` says whether
        # this cycle captures): the second whole-core build's worst path ran from ``got`` through the
        # increment and select to every LUT RAM's address, 14.8 of 16.9 ns wire
        rd_addr = Signal.like(got)
        m.d.sync += rd_addr.eq(Mux(delay[-2], got_next + 1, got_next))
        m.d.comb += [a_rd.addr.eq(rd_addr), k_rd.addr.eq(rd_addr)]
        comb_valid = Signal()
        comb_addr = Signal.like(got)
        comb_d = Signal(S * dw)
        ds = fx.drive_shift
        lanes_d = []
        for s in range(S):
            a_hi = a_rd.data.word_select(s, lb).as_signed()
            a_lo = arr.head.word_select(s, lb).as_signed()
            kw = k_rd.data.word_select(s, cw + bw)
            acc = (a_hi << DIGIT_BITS) - kw[:cw].as_signed() + a_lo
            lanes_d.append((shift_round(acc, ds) - kw[cw:].as_signed())[:dw])
        m.d.sync += [comb_valid.eq(capture & (mode == 2)), comb_addr.eq(got), comb_d.eq(Cat(*lanes_d))]
        m.d.comb += [d_wr.addr.eq(comb_addr), d_wr.data.eq(comb_d), d_wr.en.eq(comb_valid)]

        # ---------------------------------------------------------------- drive events
        n_ev = Signal(range(N + 1))
        x_valid = Signal()                               # x_rd.data holds code n_ev
        digit_hi = Signal()                              # the phase's digit: high (offset) or low
        drive_issue = Signal()
        take_x = Signal()
        m.d.comb += [x_rd.addr.eq(Mux(take_x, n_ev + 1, n_ev))]
        code = x_rd.data
        hi_digit = (code[DIGIT_BITS:2 * DIGIT_BITS] ^ (1 << (DIGIT_BITS - 1)))   # (x >> 4) + 8, 4 bits
        serial_event = Signal.like(arr.spikes.payload)
        serial_valid = Signal()
        m.d.comb += take_x.eq(drive_issue & x_valid & arr.spikes.ready)
        with m.If(drive_issue):
            m.d.comb += [arr.spikes.valid.eq(x_valid), arr.spikes.payload.j.eq(n_ev),
                         arr.spikes.payload.z.eq(Mux(digit_hi, hi_digit, code[:DIGIT_BITS])),
                         arr.spikes.payload.first.eq(n_ev == 0), arr.spikes.payload.drive.eq(1)]
        with m.Else():
            m.d.comb += [arr.spikes.valid.eq(serial_valid), arr.spikes.payload.eq(serial_event)]
        with m.If(take_x):
            m.d.sync += n_ev.eq(n_ev + 1)

        # ---------------------------------------------------------------- sampling pass
        m.submodules.membrane = memb = MembraneUpdate(fx, S)
        if self.search == timing.PARALLEL_SAMPLER:
            m.submodules.sampler = samp = PoissonSampler(fmt, fx.table, S)
        else:
            m.submodules.sampler = samp = PoissonSearch(fmt, fx.table, S, self.search)
        credits = timing.issue_credits(self.search)
        m.submodules.fifo = cfifo = CreditFifo(memb.o.payload.shape(), credits)
        issue_pass = Signal()
        first_pass = Signal()
        lat_valid = Signal()
        # the membrane units read the flag from a copy per group of lanes, loaded with lat_valid: one
        # flag reaching every unit's l was the 72 MHz build's critical path on all three seeds (its
        # first hop 5.05 ns across the die); a lane whose copy is 0 sees l = 0, as the unit's own
        # ``lateral`` input would make it
        lat_copies = lane_copies("lat_valid", 1, S)
        ps_s = Signal(range(G + 1))
        ps_last = Signal()
        u_count = Signal(range(G + 1))
        z_count = Signal(range(G + 1))
        in_flight = Signal(range(credits + 1))
        issue = Signal()
        pv1 = Signal()
        # a pass that reads l issues slot s once its group is captured: the read-out of l overlaps
        # the pass (the sampler takes slots no faster than the read-out captures them)
        l_ready = Signal()
        m.d.comb += [l_ready.eq(~lat_valid | (got > ps_s)),
                     issue.eq(issue_pass & (in_flight != credits) & l_ready)]
        m.d.sync += [pv1.eq(issue), in_flight.eq(in_flight + issue - cfifo.credit)]
        m.d.comb += [u_rd.addr.eq(Mux(streaming, st.addr, Mux(first_pass, ps_s + G, ps_s))),
                     u_rd.en.eq(Mux(streaming, st.en, 1)),
                     d_rd.addr.eq(ps_s), l_rd.addr.eq(ps_s)]
        m.d.comb += [
            memb.i.valid.eq(pv1),
            memb.i.payload.u.eq(u_rd.data), memb.i.payload.d.eq(d_rd.data),
            memb.i.payload.l.eq(Cat(*[Mux(copy_of(lat_copies, s), l_rd.data.word_select(s, lw), 0)
                                      for s in range(S)])),
            memb.i.payload.prior.eq(first_pass), memb.i.payload.lateral.eq(1),
            memb.o.ready.eq(1),
            u_wr.addr.eq(u_count), u_wr.en.eq(memb.o.valid), u_wr.data.eq(memb.o.payload.u),
            cfifo.i.valid.eq(memb.o.valid), cfifo.i.payload.eq(memb.o.payload),
            samp.i.valid.eq(cfifo.o.valid), samp.i.payload.eq(cfifo.o.payload), cfifo.o.ready.eq(samp.i.ready),
            samp.o.ready.eq(1),
        ]
        # the samplers reseed one cycle after the sequencer asks, from a registered copy of the seed:
        # the reseed's fan-out to every generator and table row starts at a flip-flop (the 85F's
        # 72 MHz critical path ran from the input counter's compare through it). The last load
        # lands in the drive's first cycle with the seed of the last input beat's cycle: the same
        # generator state, long before the first pass samples.
        reseed, seed_q, reseed_q = Signal(), Signal(32), Signal()
        m.d.sync += [seed_q.eq(self.seed), reseed_q.eq(reseed)]
        m.d.comb += [samp.seed.eq(seed_q), samp.reseed.eq(reseed_q)]
        with m.If(memb.o.valid):
            m.d.sync += u_count.eq(u_count + 1)
        zword = samp.o.payload.z
        m.d.comb += [z_wr.addr.eq(z_count), z_wr.en.eq(samp.o.valid), z_wr.data.eq(zword)]
        with m.If(samp.o.valid):
            m.d.sync += z_count.eq(z_count + 1)

        # ---------------------------------------------------------------- spike serialiser
        # the pass's z words with a spike queue here (G deep: the sampler never waits), and leave
        # one spike a cycle, lowest lane first, as the array's events
        spike_word = data.StructLayout({"z": unsigned(S * cb), "slot": unsigned(index_bits(G))})
        # (at least 2 deep: a one-entry SyncFIFOBuffered is its output register alone, a cycle faster)
        m.submodules.spike_q = q = fifo.SyncFIFOBuffered(width=spike_word.size, depth=max(G, 2))
        m.d.comb += [q.w_data.eq(Cat(zword, z_count)),
                     q.w_en.eq(samp.o.valid & zword.any() & (t_cur != t_max))]
        cur = Signal(spike_word)
        mask = Signal(S)
        any_spike, lane = lowest_set(mask)
        rest = Signal(S)
        m.d.comb += rest.eq(mask & ~(Const(1, S) << lane)[:S])
        first_spike = Signal()                           # the next spike opens the pass's phase
        spiked = Signal()                                # this pass sent a spike
        m.d.comb += [serial_valid.eq(any_spike),
                     serial_event.j.eq(cur.slot * S + lane),
                     serial_event.z.eq(cur.z.word_select(lane, cb)),
                     serial_event.first.eq(first_spike), serial_event.drive.eq(0)]
        sent = Signal()
        m.d.comb += sent.eq(~drive_issue & any_spike & arr.spikes.ready)
        with m.If(sent):
            m.d.sync += [mask.eq(rest), first_spike.eq(0), spiked.eq(1)]
        # the next word loads as the last spike of this one leaves (or into an empty register)
        load_next = Signal()
        m.d.comb += [load_next.eq(q.r_rdy & (~any_spike | (sent & (rest == 0)))), q.r_en.eq(load_next)]
        with m.If(load_next):
            nxt = q.r_data
            m.d.sync += [cur.eq(nxt), mask.eq(Cat(*[nxt[:S * cb].word_select(s, cb).any() for s in range(S)]))]
        serial_idle = Signal()
        m.d.comb += serial_idle.eq(~any_spike & (q.level == 0))

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

        def start_readout(what):
            m.d.sync += [readout.eq(1), mode.eq(what), shifts.eq(0)]
            m.d.comb += got_next.eq(0)

        def start_pass(t_next, first):
            m.d.sync += [ps_s.eq(0), ps_last.eq(G == 1), u_count.eq(0), z_count.eq(0), t_cur.eq(t_next),
                         first_pass.eq(first), first_spike.eq(1), spiked.eq(0)]

        def next_pass(t_next, first, lateral):
            """Pass t_next: its read-out first when the pass before spiked."""
            start_pass(t_next, first)
            m.d.sync += [lat_valid.eq(lateral), *[c.eq(lateral) for c in lat_copies]]
            if not isinstance(lateral, int):
                with m.If(lateral):
                    start_readout(0)
            m.next = "PASS"

        # ---------------------------------------------------------------- sequencer
        with m.FSM():
            with m.State("LOAD"):
                m.d.comb += [self.i.ready.eq(1), x_wr.addr.eq(n_in), x_wr.data.eq(self.i.payload),
                             x_wr.en.eq(self.i.valid)]
                if self.config.reseed_wait:
                    m.d.comb += reseed.eq(n_in == N - 1)
                with m.If(self.i.valid):
                    m.d.sync += n_in.eq(n_in + 1)
                    with m.If(n_in == N - 1):
                        m.d.sync += [n_in.eq(0), cycles.eq(0), n_ev.eq(0), x_valid.eq(0), digit_hi.eq(1),
                                     t_max.eq(Mux(self.iterations > self.max_iterations, self.max_iterations,
                                                  self.iterations))]
                        if not self.config.reseed_wait:
                            m.d.comb += reseed.eq(1)
                        m.next = "DRIVE"
            with m.State("DRIVE"):                       # one digit phase: N drive events
                m.d.comb += [self.busy.eq(1), drive_issue.eq(1)]
                m.d.sync += [cycles.eq(cycles + 1), x_valid.eq(1)]
                with m.If(take_x & (n_ev == N - 1)):
                    m.d.sync += [n_ev.eq(0), x_valid.eq(0)]
                    start_readout(Mux(digit_hi, 1, 2))
                    m.next = "DRIVE_READOUT"
            with m.State("DRIVE_READOUT"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(got == G):
                    with m.If(digit_hi):
                        m.d.sync += digit_hi.eq(0)
                        m.next = "DRIVE"
                    with m.Else():
                        m.next = "DRIVE_COMBINE"
            with m.State("DRIVE_COMBINE"):               # the last combined word is written
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                next_pass(0, 1, 0)
            with m.State("PASS"):
                m.d.comb += [self.busy.eq(1), issue_pass.eq(1)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(issue):
                    m.d.sync += [ps_s.eq(ps_s + 1), ps_last.eq(ps_s == G - 2)]
                    with m.If(ps_last):
                        m.next = "DRAIN"
            with m.State("DRAIN"):                       # the pass's last z written, its spikes sent
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If((z_count == G) & serial_idle):
                    if self.has_trace:
                        m.d.comb += st.start.eq(1)
                        m.d.sync += is_trace.eq(1)
                        m.next = "TRACE"
                    else:
                        with m.If(t_cur == t_max):
                            m.d.comb += st.start.eq(1)
                            m.next = "OUTPUT"
                        with m.Else():
                            next_pass(t_cur + 1, 0, spiked)
            if self.has_trace:
                with m.State("TRACE"):
                    m.d.comb += [self.busy.eq(1), streaming.eq(1)]
                    with m.If(st.done):
                        m.d.sync += is_trace.eq(0)
                        with m.If(t_cur == t_max):
                            m.d.comb += st.start.eq(1)
                            m.next = "OUTPUT"
                        with m.Else():
                            next_pass(t_cur + 1, 0, spiked)
            with m.State("OUTPUT"):
                m.d.comb += [self.busy.eq(1), streaming.eq(1)]
                with m.If(st.done):
                    m.next = "LOAD"
        return m
