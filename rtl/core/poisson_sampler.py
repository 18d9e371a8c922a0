"""Spike sampler: P xorshift32 PRNG lanes and one Poisson threshold table per lane
(docs/arithmetic.md §5-6)."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.layout import pack

from . import timing
from .prng import prng_lane

__all__ = ["PoissonSampler"]


class PoissonSampler(wiring.Component):
    """Spike sampler: P xorshift32 PRNG lanes and one Poisson threshold table per lane
    (docs/arithmetic.md §5-6).

    Members
    -------
    i : In(stream.Signature(StructLayout({"u": unsigned(P * u_bits)})))
        One slot of P membrane codes per beat (lane p in bits p*u_bits and up).
    o : Out(stream.Signature(StructLayout({"z": unsigned(P * count_bits)})))
        The P counts of that slot, in the same order. Backpressure stalls the whole pipeline.
    seed : In(unsigned(32)); reseed : In(1)
        A cycle with ``reseed`` high loads every lane from ``seed`` (do it with no beat in flight).

    Each accepted beat steps every lane's PRNG once, so lane p's (s)-th draw samples neuron
    s P + p, as the golden model does. Latency: ``latency`` = 2 cycles from an accepted input beat
    to its output beat (table read, then compare); initiation interval 1.

    Parameters
    ----------
    fmt : Formats
        Widths: u, counts, probabilities, sampler rows.
    table : ndarray
        The bundle's Poisson threshold table G (R x count_max).
    lanes : int
        P, PRNG lanes and table copies.
    """
    latency = timing.SAMPLER_LATENCY

    def __init__(self, fmt: Formats, table, lanes: int):
        self.fmt, self.table, self.lanes = fmt, table, lanes
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"u": unsigned(lanes * fmt.u_bits)}))),
            "o": Out(stream.Signature(data.StructLayout({"z": unsigned(lanes * fmt.count_bits)}))),
            "seed": In(unsigned(32)),
            "reseed": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        fmt, P = self.fmt, self.lanes
        ub, cb, pb, zmax, rows = fmt.u_bits, fmt.count_bits, fmt.prob_bits, fmt.count_max, fmt.table_rows
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        v1 = Signal()
        with m.If(en):
            m.d.sync += [v1.eq(self.i.valid), self.o.valid.eq(v1)]
        zs = []
        for p in range(P):
            m.submodules[f"table{p}"] = tab = memory.Memory(
                shape=unsigned(zmax * pb), depth=rows, init=[pack(self.table[r], pb) for r in range(rows)])
            rd = tab.read_port()
            _, rnd = prng_lane(m, p, seed=self.seed, reseed=self.reseed, step=en & self.i.valid, prob_bits=pb)
            u = self.i.payload.u.word_select(p, ub).as_signed()
            row = (u >> (fmt.u_frac - fmt.sampler_frac)) + (8 << fmt.sampler_frac)
            m.d.comb += [rd.addr.eq(Mux(row > rows - 1, rows - 1, row)), rd.en.eq(en)]
            z = Signal(range(zmax + 1), name=f"z{p}")
            m.d.comb += z.eq(sum((rnd < rd.data.word_select(k, pb)).as_unsigned() for k in range(zmax)))
            zs.append(z[:cb])
        with m.If(en):
            m.d.sync += self.o.payload.z.eq(Cat(*zs))
        return m
