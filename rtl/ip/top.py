"""The IP top for other flows: :class:`rtl.axi_stream.AxiStreamCore` with AXI4-Stream port names,
``aclk`` and an active-low synchronous ``aresetn``, as Vivado, Quartus, Libero or a LiteX SoC expect."""
from __future__ import annotations

from amaranth import ClockDomain, Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ipvae.rtl.core.ipvae_core import IpvaeCore

from .axi_stream import USER_BITS, AxiStreamCore

__all__ = ["AxisIpTop"]


class AxisIpTop(wiring.Component):
    """The IP top for other flows: :class:`rtl.axi_stream.AxiStreamCore` with AXI4-Stream port names,
    ``aclk`` and an active-low synchronous ``aresetn``, as Vivado, Quartus, Libero or a LiteX SoC expect.

    Ports (Verilog names)
    ---------------------
    aclk, aresetn                          clock; reset, active low, synchronous to aclk
    s_axis_tdata[7:0], s_axis_tvalid, s_axis_tready, s_axis_tlast, s_axis_tuser[47:0]
        one input code per beat (two's complement in the low input_bits), tlast on the N-th code,
        tuser on a frame's first beat: T in bits 15:0, the seed in bits 47:16
    m_axis_tdata[W-1:0], m_axis_tvalid, m_axis_tready, m_axis_tlast, m_axis_tuser[0:0]
        one beat per P neurons, K/P beats per result: z of lane p in bits p*cb +: cb, u of lane p in
        bits P*cb + p*ub +: ub, zero-padded to a whole number of bytes; tlast on the last beat; tuser = 1
        for the result of a malformed input frame
    w_axis_tdata, w_axis_tvalid, w_axis_tready   (only for run-time loaded weights) one weight word per beat
    cycles[31:0], frame_errors[15:0]       status: compute cycles of the last inference, malformed frames

    Timing: the core's (``cycles`` = rtl/core/cycle_model.py) plus the AXI wrapper's beats
    (rtl/ip/axi_stream.py: :class:`AxiStreamCore`).

    Parameters
    ----------
    core : IpvaeCore
        The core to wrap (its configuration fixes N, K, P and the weight placement).
    """
    def __init__(self, core: IpvaeCore):
        self.wrapper = AxiStreamCore(core)
        self.core = core
        self.data_bits = len(self.wrapper.o.payload.data)
        self.tdata_bits = -(-self.data_bits // 8) * 8
        members = {}
        if core.weights == "ram":
            self.w_bits = len(self.wrapper.w.payload.data)
            members = {"w_axis_tdata": In(unsigned(self.w_bits)), "w_axis_tvalid": In(1), "w_axis_tready": Out(1)}
        super().__init__({
            **members,
            "aclk": In(1), "aresetn": In(1),
            "s_axis_tdata": In(unsigned(8)), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1), "s_axis_tuser": In(unsigned(USER_BITS)),
            "m_axis_tdata": Out(unsigned(self.tdata_bits)), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1), "m_axis_tuser": Out(1),
            "cycles": Out(32), "frame_errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync", local=True)
        m.d.comb += [cd.clk.eq(self.aclk), cd.rst.eq(~self.aresetn)]
        m.submodules.axis = w = self.wrapper
        m.d.comb += [
            w.i.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(w.i.ready),
            w.i.payload.data.eq(self.s_axis_tdata), w.i.payload.last.eq(self.s_axis_tlast),
            w.i.payload.user.eq(self.s_axis_tuser),
            self.m_axis_tvalid.eq(w.o.valid), w.o.ready.eq(self.m_axis_tready),
            self.m_axis_tdata.eq(w.o.payload.data), self.m_axis_tlast.eq(w.o.payload.last),
            self.m_axis_tuser.eq(w.o.payload.user),
            self.cycles.eq(w.cycles), self.frame_errors.eq(w.frame_errors),
        ]
        if self.core.weights == "ram":
            m.d.comb += [w.w.valid.eq(self.w_axis_tvalid), w.w.payload.data.eq(self.w_axis_tdata),
                         self.w_axis_tready.eq(w.w.ready)]
        return m
