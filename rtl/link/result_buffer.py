"""Result buffer of the host link: a RESULT's counts wait here, not in the core, so the core takes
the next inference while the reply drains through the UART (docs/uart_protocol.md, Pipelining)."""
from __future__ import annotations

from amaranth import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

__all__ = ["ResultBuffer"]


class ResultBuffer(wiring.Component):
    """Result buffer of the host link: a RESULT's counts wait here, not in the core, so the core takes
    the next inference while the reply drains through the UART (docs/uart_protocol.md, Pipelining).

    A counts-only inference hands its K/P output beats (z only) to a FIFO of K/P entries, one beat a
    cycle once there is room, and the core is free again; the reply writer reads them at the UART's
    pace. An inference whose RESULT carries u as well passes straight through from the core to the
    writer (u is four times the counts: it would not fit the iCE40's one spare block RAM), so its
    core waits for the reply as before.

    Members
    -------
    i : In(stream.Signature(core.output_layout))   the core's output beats
    o : Out(stream.Signature(core.output_layout))  to the reply writer (u is the core's, read only
                                                   when passing through)
    i_with_u : In(1)   the inference in the core sends u: its beats pass through
    o_with_u : In(1)   the RESULT being written sends u: it reads the core, not the FIFO

    Timing: a buffered beat is taken in the cycle the core offers it while the FIFO has room and is
    offered to the writer two cycles after it was taken (``amaranth.lib.fifo.SyncFIFOBuffered``: the
    block RAM read and its output register). A passing beat is combinational.

    Parameters
    ----------
    core : IpvaeCore
        The core whose K/P output beats it holds.
    """
    def __init__(self, core):
        """core: the IpvaeCore whose output it holds (its layout and K/P slots)."""
        self.layout, self.slots = core.output_layout, core.slots
        super().__init__({"i": In(stream.Signature(core.output_layout)),
                          "o": Out(stream.Signature(core.output_layout)),
                          "i_with_u": In(1), "o_with_u": In(1)})

    def elaborate(self, platform):
        m = Module()
        zw = len(self.i.payload.z)
        # one result: K/P entries in the memory, plus the FIFO's output register
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=zw, depth=self.slots + 1)
        through = self.i_with_u & self.o_with_u     # the core's beats go straight to the writer
        m.d.comb += [
            fifo.w_data.eq(self.i.payload.z),
            fifo.w_en.eq(self.i.valid & ~self.i_with_u),
            self.i.ready.eq(Mux(self.i_with_u, through & self.o.ready, fifo.w_rdy)),
            self.o.valid.eq(Mux(self.o_with_u, through & self.i.valid, fifo.r_rdy)),
            self.o.payload.z.eq(Mux(self.o_with_u, self.i.payload.z, fifo.r_data)),
            self.o.payload.u.eq(self.i.payload.u),
            fifo.r_en.eq(self.o.ready & ~self.o_with_u),
        ]
        return m
