"""Stream register slice with a registered ``ready`` (skid buffer): cuts the combinational
valid/ready paths between two blocks without losing throughput.

Members
-------
i : In(stream.Signature(shape)); o : Out(stream.Signature(shape))

Latency 1 cycle, initiation interval 1. ``i.ready`` is a register (low only while the one-beat
skid holds a beat that arrived while ``o`` was stalled), so nothing upstream depends
combinationally on ``o.ready``.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import timing


class SkidBuffer(wiring.Component):
    latency = timing.SKID_LATENCY

    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal.like(self.i.payload.as_value(), name="skid")
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
