"""Input buffer and feed-forward drive d = shift_round(F x, drive_shift) - c
(docs/arithmetic.md §4, step 1), P multiply-accumulate lanes."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.formats import signed_bits
from ipvae.golden_model.golden import FixedModel
from ipvae.golden_model.layout import pack, weight_words

from . import timing
from .fanout import copy_of, lane_copies
from .membrane import shift_round
from .weight_memory import WeightMemory, check_weights, load_layout

__all__ = ["FeedForwardDrive"]


class FeedForwardDrive(wiring.Component):
    """Input buffer and feed-forward drive d = shift_round(F x, drive_shift) - c
    (docs/arithmetic.md §4, step 1), P multiply-accumulate lanes.

    Members
    -------
    i : In(stream.Signature(signed(input_bits)))
        N input codes per inference (gaps allowed); accepted while the block is idle.
    o : Out(stream.Signature(StructLayout({"d": unsigned(P * drive_bits)})))
        K/P beats, slot s = 0 .. K/P-1: the drives of neurons sP .. sP+P-1 (lane p in bits p*drive_bits).
        Backpressure stalls the whole pipeline.
    load : In(stream.Signature(StructLayout({"addr": range(K/P N), "data": unsigned(P * weight_bits)})))
        Only with ``weights="ram"``: write word ``addr`` = s N + n (F[sP+p, n] in lane p's bits) of
        the run-time loadable F store (rtl/core/loadable_ram.py). Ready while no input has arrived.

    After the last input beat, slot s's beat is valid (s + 1) N + ``latency_tail`` cycles later when
    never stalled, so the whole drive takes ``cycles`` = K/P N + 5 cycles: read, register the
    memory words, multiply, accumulate, output (``latency_tail`` = 4 after the last issue).

    Parameters
    ----------
    fixed : FixedModel
        The integer model: N, K, F, c, widths and the drive shift.
    lanes : int
        P, a divisor of K.
    weights : str
        "rom" (F in initialised block RAM) or "ram" (loaded through ``load``).
    """
    latency_tail = timing.DRIVE_LATENCY_TAIL

    def __init__(self, fixed: FixedModel, lanes: int, weights: str = "rom"):
        check_weights(weights)
        self.fixed, self.lanes, self.slots, self.weights = fixed, lanes, fixed.n_latents // lanes, weights
        members = {
            "i": In(stream.Signature(signed(fixed.fmt.input_bits))),
            "o": Out(stream.Signature(data.StructLayout({"d": unsigned(lanes * fixed.widths()["drive"])}))),
        }
        if weights == "ram":
            members["load"] = In(stream.Signature(load_layout(lanes * fixed.fmt.weight_bits,
                                                              self.slots * fixed.n_inputs)))
        super().__init__(members)

    @property
    def cycles(self):
        """Cycles from the one after the last input beat to the last output beat, unstalled."""
        return self.slots * self.fixed.n_inputs + self.latency_tail + 1

    def elaborate(self, platform):
        m = Module()
        fx, fmt, P, S, N = self.fixed, self.fixed.fmt, self.lanes, self.slots, self.fixed.n_inputs
        wb, xb = fmt.weight_bits, fmt.input_bits
        w = fx.widths()
        aw, dw = w["drive_acc"], w["drive"]
        cw = signed_bits(int(fx.c.min()), int(fx.c.max()))

        m.submodules.x_mem = x_mem = memory.Memory(shape=unsigned(xb), depth=N, init=[])
        m.submodules.c_mem = c_mem = memory.Memory(
            shape=unsigned(P * cw), depth=S, init=[pack(fx.c[s * P:(s + 1) * P], cw) for s in range(S)])
        x_wr, x_rd = x_mem.write_port(), x_mem.read_port()
        c_rd = c_mem.read_port()
        f_addr, f_data = Signal(range(max(S * N, 2))), Signal(P * wb)
        loading = Signal()

        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)
        m.d.comb += [x_rd.en.eq(en), c_rd.en.eq(en)]
        m.submodules.f_mem = f_mem = WeightMemory(P * wb, S * N, self.weights,
                                                  weight_words(fx, P)[0] if self.weights == "rom" else None)
        m.d.comb += [f_mem.rd_addr.eq(f_addr), f_mem.rd_en.eq(en), f_data.eq(f_mem.rd_data)]
        if self.weights == "ram":
            m.d.comb += [f_mem.loading.eq(loading), f_mem.wr_addr.eq(self.load.payload.addr),
                         f_mem.wr_data.eq(self.load.payload.data), f_mem.wr_en.eq(self.load.valid)]

        n_in = Signal(range(N + 1))
        s_i, n_i = Signal(range(S + 1)), Signal(range(N + 1))
        a_i = Signal(range(S * N + 1))
        issue = Signal()
        v1, f1, l1 = Signal(), Signal(), Signal()
        v1r, f1r, l1r = Signal(), Signal(), Signal()
        v2, f2, l2 = Signal(), Signal(), Signal()
        v3 = Signal()
        c1r, c2, c3 = Signal(P * cw), Signal(P * cw), Signal(P * cw)
        # the memories' outputs are registered before the multipliers: a block RAM's
        # clock-to-out and the x broadcast to all P multipliers then sit in different cycles
        # (the ECP5's critical path at P = 64 ran from x_mem through every lane's multiplier)
        x1, w1 = lane_copies("x1", signed(xb), P), Signal(P * wb)   # x: a register copy per lane group
        prod = [Signal(signed(wb + xb), name=f"prod{p}") for p in range(P)]
        acc = [Signal(signed(aw), name=f"acc{p}") for p in range(P)]
        m.d.comb += [f_addr.eq(a_i), x_rd.addr.eq(n_i), c_rd.addr.eq(s_i)]
        with m.If(en):
            m.d.sync += [v1.eq(issue), f1.eq(n_i == 0), l1.eq(n_i == N - 1),
                         v1r.eq(v1), f1r.eq(f1), l1r.eq(l1), c1r.eq(c_rd.data),
                         *[c.eq(x_rd.data) for c in x1], w1.eq(f_data),
                         v2.eq(v1r), f2.eq(f1r), l2.eq(l1r), c2.eq(c1r),
                         v3.eq(v2 & l2), c3.eq(c2), self.o.valid.eq(v3)]
            for p in range(P):
                m.d.sync += prod[p].eq(w1.word_select(p, wb).as_signed() * copy_of(x1, p))
                with m.If(v2):
                    m.d.sync += acc[p].eq(Mux(f2, prod[p], acc[p] + prod[p]))
            m.d.sync += self.o.payload.d.eq(Cat(*[
                (shift_round(acc[p], fx.drive_shift) - c3.word_select(p, cw).as_signed())[:dw] for p in range(P)]))

        with m.FSM():
            with m.State("LOAD"):
                m.d.comb += [self.i.ready.eq(1), x_wr.addr.eq(n_in), x_wr.data.eq(self.i.payload),
                             x_wr.en.eq(self.i.valid)]
                if self.weights == "ram":
                    m.d.comb += [loading.eq(n_in == 0), self.load.ready.eq(n_in == 0)]
                with m.If(self.i.valid):
                    m.d.sync += n_in.eq(n_in + 1)
                    with m.If(n_in == N - 1):
                        m.d.sync += [n_in.eq(0), s_i.eq(0), n_i.eq(0), a_i.eq(0)]
                        m.next = "COMPUTE"
            with m.State("COMPUTE"):
                m.d.comb += issue.eq(1)
                with m.If(en):
                    m.d.sync += a_i.eq(a_i + 1)
                    with m.If(n_i == N - 1):
                        m.d.sync += [n_i.eq(0), s_i.eq(s_i + 1)]
                        with m.If(s_i == S - 1):
                            m.next = "LOAD"
                    with m.Else():
                        m.d.sync += n_i.eq(n_i + 1)
        return m
