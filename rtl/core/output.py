"""Output streamer: reads the K/P words of z and u that a sampling pass left in the core's
memories and sends them as stream beats, for the output stream and the per-iteration trace."""
from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import index_bits

__all__ = ["OutputStreamer"]


class OutputStreamer(wiring.Component):
    """Output streamer: reads the K/P words of z and u that a sampling pass left in the core's
    memories and sends them as stream beats, for the output stream and the per-iteration trace.

    Members
    -------
    start : In(1)
        Pulse: stream slots 0 .. K/P-1 (may coincide with ``done`` to start the next run at once).
    done : Out(1)
        High in the cycle the last beat is taken (or at once if nothing is pending).
    addr : Out(range(K/P)); en : Out(1); z_data : In; u_data : In
        Synchronous read ports of the z and u memories (data one cycle after addr, held while en low).
    o : Out(stream.Signature(StructLayout({"slot", "z", "u"})))
        One beat per slot; backpressure holds the read port, nothing is lost or duplicated.

    Timing: the first beat is valid 2 cycles after ``start``; with ``o.ready`` held high the
    streamer sends one beat per cycle, so a run lasts K/P + 1 cycles after ``start``.

    Parameters
    ----------
    slots : int
        K/P beats per result.
    z_bits : int
        Bits of the P counts of a beat.
    u_bits : int
        Bits of the P membrane codes of a beat.
    """
    def __init__(self, slots: int, z_bits: int, u_bits: int):
        self.slots = slots
        sw = index_bits(slots)
        super().__init__({
            "start": In(1),
            "done": Out(1),
            "addr": Out(range(max(slots, 2))),
            "en": Out(1),
            "z_data": In(unsigned(z_bits)),
            "u_data": In(unsigned(u_bits)),
            "o": Out(stream.Signature(data.StructLayout(
                {"slot": unsigned(sw), "z": unsigned(z_bits), "u": unsigned(u_bits)}))),
        })

    def elaborate(self, platform):
        m = Module()
        S = self.slots
        issued = Signal(range(S + 1))
        slot = Signal.like(self.o.payload.slot)
        m.d.comb += [self.en.eq(~self.o.valid | self.o.ready), self.addr.eq(issued),
                     self.o.payload.z.eq(self.z_data), self.o.payload.u.eq(self.u_data),
                     self.o.payload.slot.eq(slot)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += issued.eq(0)
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(self.en):
                    with m.If(issued < S):
                        m.d.sync += [issued.eq(issued + 1), self.o.valid.eq(1), slot.eq(issued)]
                    with m.Else():
                        m.d.comb += self.done.eq(1)
                        m.d.sync += self.o.valid.eq(0)
                        with m.If(self.start):
                            m.d.sync += issued.eq(0)
                        with m.Else():
                            m.next = "IDLE"
        return m
