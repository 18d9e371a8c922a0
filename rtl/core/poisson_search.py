"""Spike sampler, search form: P xorshift32 PRNG lanes and one narrow Poisson table per lane,
read W thresholds per cycle until a lane's uniform U is no longer below them
(docs/arithmetic.md §5: rows are non-increasing, so the hits in a row are a prefix, and stopping
at the first miss gives the same z as comparing all thresholds).
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.layout import pack

from . import timing
from .prng import prng_lane

__all__ = ["table_shape", "PoissonSearch"]


def table_shape(fmt: Formats, per_cycle: int):
    """(depth, width) of one table copy: R rows of count_max + 1 thresholds, per_cycle per word."""
    return fmt.table_rows * (fmt.count_max + 1) // per_cycle, per_cycle * fmt.prob_bits


class PoissonSearch(wiring.Component):
    """Spike sampler, search form: P xorshift32 PRNG lanes and one narrow Poisson table per lane,
    read W thresholds per cycle until a lane's uniform U is no longer below them
    (docs/arithmetic.md §5: rows are non-increasing, so the hits in a row are a prefix, and stopping
    at the first miss gives the same z as comparing all thresholds).

    Members
    -------
    i : In(stream.Signature(StructLayout({"u": unsigned(P * u_bits)})))
    o : Out(stream.Signature(StructLayout({"z": unsigned(P * count_bits)})))
    seed : In(unsigned(32)); reseed : In(1)
        As in :class:`rtl.poisson_sampler.PoissonSampler`.

    Each table copy holds R rows of count_max + 1 thresholds (the last one 0, so every search
    ends), W per word: R (count_max+1)/W words of W prob_bits. Default W = 4: 192 x 48 bits,
    3 iCE40 EBR or 2 ECP5 DP16KD instead of 12 or 5 for the parallel form. Two lanes share a copy
    through two read ports: on the ECP5 a true dual-port DP16KD (at most 18 bits per port) then
    serves two lanes with W = 1 (768 x 12 bits); the iCE40 (one read port per EBR) still needs
    a copy per lane.

    Timing: a beat whose lanes draw counts z_p occupies the block for
    max_p floor(z_p / W) + ``slot_overhead`` cycles (= 3, rtl/core/timing.py; rtl/core/cycle_model.py's
    ``sampler_cycles`` sums it over a pass): one to accept it, one while the first word is read,
    then one compare per word until every lane has missed (max_p floor(z_p / W) + 1 compares).
    Table words are registered
    before the compare, so a block RAM's clock-to-out and the P-lane "all missed" decision never
    share a cycle (the critical path of both boards before). The output beat follows one cycle
    after the last compare, and the next beat is accepted in that cycle.

    Parameters
    ----------
    fmt : Formats
        Widths: u, counts, probabilities, sampler rows.
    table : ndarray
        The bundle's Poisson threshold table G (R x count_max).
    lanes : int
        P, PRNG lanes.
    per_cycle : int
        W, thresholds read per cycle (divides count_max + 1).
    """
    #: cycles per slot beyond max_p floor(z_p / W) (rtl/core/timing.py)
    slot_overhead = timing.SEARCH_OVERHEAD
    latency = timing.SAMPLER_LATENCY

    def __init__(self, fmt: Formats, table, lanes: int, per_cycle: int = 4):
        row = fmt.count_max + 1
        if per_cycle < 1 or row % per_cycle:
            raise ParameterError(f"thresholds per cycle must divide {row} (count_max + 1), got {per_cycle}")
        self.fmt, self.table, self.lanes, self.per_cycle = fmt, table, lanes, per_cycle
        self.row_words = row // per_cycle
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"u": unsigned(lanes * fmt.u_bits)}))),
            "o": Out(stream.Signature(data.StructLayout({"z": unsigned(lanes * fmt.count_bits)}))),
            "seed": In(unsigned(32)),
            "reseed": In(1),
        })

    @property
    def memory_shape(self):
        """(depth, width) of one table copy."""
        return table_shape(self.fmt, self.per_cycle)

    def elaborate(self, platform):
        m = Module()
        fmt, P, W, RW = self.fmt, self.lanes, self.per_cycle, self.row_words
        ub, cb, pb, zmax, rows = fmt.u_bits, fmt.count_bits, fmt.prob_bits, fmt.count_max, fmt.table_rows
        init = []
        for r in range(rows):
            g = [int(v) for v in self.table[r]] + [0]          # count_max + 1 thresholds
            init += [pack(g[j * W:(j + 1) * W], pb) for j in range(RW)]

        busy = Signal()
        wait = Signal()                  # first busy cycle: word 0 is still being read
        j = Signal(range(max(RW, 2)))
        active = Signal(P)
        out_free, finish, done, stall, accept, compare = Signal(), Signal(), Signal(), Signal(), Signal(), Signal()
        # ready only while idle: the search's last compare never reaches the next beat's table
        # address or PRNG step in the same cycle (the iCE40's critical path), at one cycle per beat
        m.d.comb += [out_free.eq(~self.o.valid | self.o.ready),
                     self.i.ready.eq(~busy & out_free),
                     accept.eq(self.i.valid & self.i.ready)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        cont, counts = [], []
        # one table copy per two lanes, each lane with its own read port: a true dual-port block
        # RAM (ECP5 DP16KD) serves both; where block RAMs have one read port (iCE40) Yosys gives
        # each port its own copy, as one table per lane would
        ports = []
        for q in range(0, P, 2):
            m.submodules[f"table{q // 2}"] = tab = memory.Memory(shape=unsigned(W * pb), depth=rows * RW, init=init)
            ports += [tab.read_port() for _ in range(min(2, P - q))]
        for p in range(P):
            rd = ports[p]
            _, rnd = prng_lane(m, p, seed=self.seed, reseed=self.reseed, step=accept, prob_bits=pb)
            row = Signal(range(rows), name=f"row{p}")
            zc = Signal(range(zmax + 2), name=f"zc{p}")
            u = self.i.payload.u.word_select(p, ub).as_signed()
            r_new = (u >> (fmt.u_frac - fmt.sampler_frac)) + (8 << fmt.sampler_frac)
            r_new = Mux(r_new > rows - 1, rows - 1, r_new)[:len(row)]
            # reads run two words ahead of the compare (word j is in ``word`` while j + 1 is
            # read); past the row's end they fetch words the compare never looks at
            word = Signal(W * pb, name=f"word{p}")
            m.d.comb += rd.addr.eq(Mux(accept, r_new * RW, row * RW + j + 1 + ~wait))
            with m.If(~stall):
                m.d.sync += word.eq(rd.data)
            hits = Cat(*[active[p] & (rnd < word.word_select(i, pb)) for i in range(W)])
            n_hit = Signal(range(W + 1), name=f"nhit{p}")
            m.d.comb += n_hit.eq(sum(hits[i] for i in range(W)))
            cont.append(hits.all())
            counts.append(zc + n_hit)
            with m.If(~self.reseed):          # the generator's reseed has priority, as before
                with m.If(accept):
                    m.d.sync += [row.eq(r_new), zc.eq(0)]
                with m.Elif(compare & ~stall):
                    m.d.sync += zc.eq(zc + n_hit)

        m.d.comb += [compare.eq(busy & ~wait),
                     finish.eq(compare & ((Cat(*cont) == 0) | (j == RW - 1))),
                     done.eq(finish & out_free), stall.eq(finish & ~out_free)]
        # the word index and the still-hitting lanes advance on every busy cycle, whether or not
        # this was the last compare (they are reset by the next accept): the compare result
        # only reaches busy and the output registers
        with m.If(compare & ~stall):
            m.d.sync += [j.eq(j + 1), active.eq(Cat(*cont))]
        with m.If(busy):
            m.d.sync += wait.eq(0)
        with m.If(done):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.z.eq(Cat(*[c[:cb] for c in counts])), busy.eq(0)]
        with m.If(accept):
            m.d.sync += [busy.eq(1), wait.eq(1), j.eq(0), active.eq((1 << P) - 1)]
        return m
