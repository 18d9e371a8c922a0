"""FIFO at the end of a credit-issued pipeline: the producer never waits on ``ready``."""
from __future__ import annotations

from amaranth import Array, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import timing

__all__ = ["CreditFifo"]


class CreditFifo(wiring.Component):
    """FIFO at the end of a credit-issued pipeline: the producer never waits on ``ready``.

    The sampling pass issues a slot only while it holds a credit, one per entry of this FIFO
    (``rtl/timing.issue_credits``); each beat the consumer takes returns one (``credit``). A beat
    issued with a credit always finds room here, so the memory read and the membrane update ahead of
    this FIFO run without a stall signal: no clock enable fans out across their registers, and the
    consumer's ``ready`` reaches only a small credit counter (docs/synthesis.md, "Clock").

    Members
    -------
    i : In(stream.Signature(shape))     ``i.ready`` is low only when full, which a credited producer
                                         never sees (the core's tests check no beat is lost)
    o : Out(stream.Signature(shape))
    credit : Out(1)                     a beat left this cycle (``o.valid & o.ready``)

    Latency ``latency`` = 1 cycle (a beat written in cycle c is on ``o`` in cycle c + 1), initiation
    interval 1, ``depth`` entries.

    Parameters
    ----------
    shape : ShapeLike
        Payload layout of a beat.
    depth : int
        Entries: the issue credits (``timing.issue_credits``).
    """
    latency = timing.FIFO_LATENCY

    def __init__(self, shape, depth: int):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.shape, self.depth = shape, depth
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)), "credit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        D = self.depth
        entries = Array(Signal.like(self.i.payload.as_value(), name=f"entry{n}") for n in range(D))
        wr, rd = Signal(range(max(D, 2))), Signal(range(max(D, 2)))
        level = Signal(range(D + 1))
        push, pop = Signal(), Signal()
        m.d.comb += [self.i.ready.eq(level != D), push.eq(self.i.valid & self.i.ready),
                     self.o.valid.eq(level != 0), self.o.payload.eq(entries[rd]),
                     pop.eq(self.o.valid & self.o.ready), self.credit.eq(pop)]
        with m.If(push):
            m.d.sync += [entries[wr].eq(self.i.payload), wr.eq(0 if D == 1 else (wr + 1) % D)]
        with m.If(pop):
            m.d.sync += rd.eq(0 if D == 1 else (rd + 1) % D)
        m.d.sync += level.eq(level + push - pop)
        # what a formal harness may read after elaboration (sim/formal.py; no logic)
        self.observe = dict(level=level, rd=rd, wr=wr, entries=entries)
        return m
