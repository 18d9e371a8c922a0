"""cocotb testbench for the generated Verilog of rtl/core/ipvae_core.py: clock, reset, an input-stream
driver with random gaps and output/trace monitors with random backpressure.

Signals follow Amaranth's flattening: i__valid/i__ready/i__payload, o__*, trace__* (payload
packed with the first StructLayout field in the low bits), iterations, seed, cycles, clk, rst.
Inputs are driven after the falling edge and sampled in ReadOnly, as cocotb 2 recommends.
"""
from __future__ import annotations

import random

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

from ipvae.golden_model.layout import unpack

PERIOD_NS = 10


class CoreTestbench:
    def __init__(self, dut, params, gap=0.0, backpressure=0.0, seed=0):
        self.dut, self.p = dut, params
        self.gap, self.backpressure = gap, backpressure
        self.rng = random.Random(seed)
        fmt = params["formats"]
        self.P, self.S, self.K = params["lanes"], params["slots"], params["n_latents"]
        self.cb, self.ub = fmt["count_bits"], fmt["u_bits"]
        self.xb = fmt["input_bits"]
        self.it_bits = max(params["max_iterations"].bit_length(), 1)
        self.slot_bits = max((self.S - 1).bit_length(), 1)

    @property
    def cycle(self):
        """Rising edges so far (the clock starts high at t = 0)."""
        return int(get_sim_time(unit="ns")) // PERIOD_NS

    async def start(self):
        Clock(self.dut.clk, PERIOD_NS, unit="ns").start()
        self.dut.rst.value = 1
        for sig in (self.dut.i__valid, self.dut.o__ready, self.dut.trace__ready, self.dut.i__payload,
                    self.dut.iterations, self.dut.seed):
            sig.value = 0
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def _tick(self):
        await RisingEdge(self.dut.clk)

    async def send(self, codes, iterations, seed):
        """Drive one input vector; returns the cycle of the last accepted beat."""
        dut = self.dut
        dut.iterations.value = iterations
        dut.seed.value = seed
        for v in codes:
            while self.rng.random() < self.gap:
                dut.i__valid.value = 0
                await self._tick()
                await FallingEdge(dut.clk)
            dut.i__payload.value = int(v) & ((1 << self.xb) - 1)
            dut.i__valid.value = 1
            while True:
                await ReadOnly()
                ready = int(dut.i__ready.value)
                await self._tick()
                await FallingEdge(dut.clk)
                if ready:
                    break
        dut.i__valid.value = 0
        return self.cycle

    async def receive(self, iterations, progress=None):
        """Collect the trace beats of passes 0..T and the K/P output beats of one inference.
        ``progress(t)`` is called as the trace of pass t starts (long runs report from it)."""
        dut = self.dut
        P, S, cb, ub = self.P, self.S, self.cb, self.ub
        tz = np.zeros((iterations + 1, self.K), np.int64)
        tu = np.zeros((iterations + 1, self.K), np.int64)
        z = np.zeros(self.K, np.int64)
        u = np.zeros(self.K, np.int64)
        got, first_out, last_out, cycles = 0, None, None, None
        while got < S:
            o_ready = int(self.rng.random() >= self.backpressure)
            t_ready = int(self.rng.random() >= self.backpressure)
            dut.o__ready.value = o_ready
            dut.trace__ready.value = t_ready
            await ReadOnly()
            if not (int(dut.trace__valid.value) or int(dut.o__valid.value)):
                # the core is computing: skip to the edge after which a beat becomes valid
                await First(RisingEdge(dut.trace__valid), RisingEdge(dut.o__valid))
                await FallingEdge(dut.clk)
                continue
            if int(dut.trace__valid.value) and t_ready:
                w = int(dut.trace__payload.value.to_unsigned())
                it = w & ((1 << self.it_bits) - 1)
                slot = (w >> self.it_bits) & ((1 << self.slot_bits) - 1)
                rest = w >> (self.it_bits + self.slot_bits)
                if progress is not None and slot == 0:
                    progress(it)
                tz[it, slot * P:(slot + 1) * P] = unpack(rest, P, cb, False)
                tu[it, slot * P:(slot + 1) * P] = unpack(rest >> (P * cb), P, ub, True)
            if int(dut.o__valid.value):
                if first_out is None:
                    first_out = self.cycle
                if o_ready:
                    w = int(dut.o__payload.value.to_unsigned())
                    z[got * P:(got + 1) * P] = unpack(w, P, cb, False)
                    u[got * P:(got + 1) * P] = unpack(w >> (P * cb), P, ub, True)
                    got += 1
                    last_out = self.cycle
                    cycles = int(dut.cycles.value.to_unsigned())
            await self._tick()
            await FallingEdge(dut.clk)
        dut.o__ready.value = 0
        dut.trace__ready.value = 0
        return dict(trace_z=tz, trace_u=tu, z=z, u=u, cycles=cycles, first_out=first_out, last_out=last_out)
