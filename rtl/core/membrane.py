"""Membrane-potential update with both clamps (docs/arithmetic.md §4, step 3c)."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.golden import FixedModel

from . import timing

__all__ = ["shift_round", "clamp", "shift_clamp_bounds", "shift_clamp", "layout_in", "MembraneUpdate"]


def shift_round(v, s):
    """Hardware form of formats.shift_round: round half up for s > 0, exact left shift else."""
    return (v + (1 << (s - 1))) >> s if s > 0 else v << (-s)


def clamp(v, lo, hi):
    return Mux(v < lo, lo, Mux(v > hi, hi, v))


def shift_clamp_bounds(s, lo, hi):
    """(below, above) such that clamp(shift_round(v, s), lo, hi) is lo for v < below, hi for
    v > above and shift_round(v, s) between: the clamp's compares act on v itself, beside the
    rounding add rather than after it (one carry chain fewer on the update's first stage)."""
    if s > 0:
        r = 1 << (s - 1)                 # shift_round(v) = (v + r) >> s, a floor
        return (lo << s) - r, ((hi + 1) << s) - r - 1
    k = -s                               # exact: shift_round(v) = v 2^k
    return -((-lo) >> k), hi >> k


def shift_clamp(v, s, lo, hi):
    """Hardware form of clamp(shift_round(v, s), lo, hi) with the compares on v."""
    below, above = shift_clamp_bounds(s, lo, hi)
    return Mux(v < below, lo, Mux(v > above, hi, shift_round(v, s)))


def layout_in(fixed: FixedModel, lanes: int):
    w, fmt = fixed.widths(), fixed.fmt
    return data.StructLayout({"u": unsigned(lanes * fmt.u_bits), "d": unsigned(lanes * w["drive"]),
                              "l": unsigned(lanes * w["lateral"]), "prior": 1, "lateral": 1})


class MembraneUpdate(wiring.Component):
    """Membrane-potential update with both clamps (docs/arithmetic.md §4, step 3c).

    Members
    -------
    i : In(stream.Signature(StructLayout({"u", "d", "l", "prior", "lateral"})))
        One slot per beat: P membrane codes u, drives d, lateral sums l; ``prior`` = 1 passes u
        through unchanged (sampling pass 0 starts from u0); ``lateral`` = 0 treats l as 0 (no
        neuron spiked in the previous pass).
    o : Out(stream.Signature(StructLayout({"u": unsigned(P * u_bits)})))
        The updated codes: clamp(u + clamp(shift_round(d - l, delta_shift), lo, hi), lo, hi).

    Latency: ``latency`` = 2 cycles (stage 1: d - l, round-shift and clamp into du, the clamp's
    compares made on d - l beside the rounding add (``shift_clamp_bounds``); stage 2: u + du and
    clamp), initiation interval 1; backpressure holds both stages.

    Parameters
    ----------
    fixed : FixedModel
        The integer model: formats, delta shift, widths.
    lanes : int
        P, neurons per beat.
    """
    latency = timing.MEMBRANE_LATENCY

    def __init__(self, fixed: FixedModel, lanes: int):
        self.fixed, self.lanes = fixed, lanes
        super().__init__({
            "i": In(stream.Signature(layout_in(fixed, lanes))),
            "o": Out(stream.Signature(data.StructLayout({"u": unsigned(lanes * fixed.fmt.u_bits)}))),
        })

    def elaborate(self, platform):
        m = Module()
        fx, fmt, P = self.fixed, self.fixed.fmt, self.lanes
        w = fx.widths()
        ub, dw, lw = fmt.u_bits, w["drive"], w["lateral"]
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        v1 = Signal()
        prior1 = Signal()
        outs = []
        for p in range(P):
            pl = self.i.payload
            u = pl.u.word_select(p, ub).as_signed()
            lat = Mux(pl.lateral, pl.l.word_select(p, lw).as_signed(), 0)
            diff = Signal(signed(w["delta_acc"] + 1), name=f"diff{p}")
            m.d.comb += diff.eq(pl.d.word_select(p, dw).as_signed() - lat)
            u1 = Signal(signed(ub), name=f"u1_{p}")
            du1 = Signal(signed(ub + 1), name=f"du1_{p}")
            with m.If(en):
                m.d.sync += [u1.eq(u), du1.eq(shift_clamp(diff, fx.delta_shift, fmt.u_lo, fmt.u_hi))]
            outs.append(Mux(prior1, u1, clamp(u1 + du1, fmt.u_lo, fmt.u_hi))[:ub])
        with m.If(en):
            m.d.sync += [v1.eq(self.i.valid), prior1.eq(self.i.payload.prior),
                         self.o.valid.eq(v1), self.o.payload.u.eq(Cat(*outs))]
        return m
