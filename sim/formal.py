"""Formal proofs of the stream contracts with SymbiYosys (YoWASP builds), beside the blocks and never
in a synthesised netlist.

A harness wraps one stream block: its input is driven by free signals (any value, any cycle) under
the stream rules assumed of a well-behaved source (valid held until ready, payload stable while
waiting), and the harness asserts the same rules on the block's output plus a tracked beat: one
input beat, chosen by the solver (an ``AnyConst`` index), must leave as the output beat with the
same index and the same payload, so no beat is lost, duplicated, reordered or corrupted, and no
more beats leave than entered. Each proof runs SymbiYosys in ``prove`` mode, unbounded: k-induction
with the smtbmc engine and Boolector where the harness names the invariants that close it, or ABC's
property-directed reachability (``abc pdr``, which finds its own inductive invariant) where the
block's state is out of the harness's reach; or ``bmc`` to a depth. Each property has a negative
control: the same harness around a deliberately broken variant of the block must fail, with a
counterexample trace (VCD), so a proof that cannot fail is caught (docs/formal.md).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from amaranth import Cat, Elaboratable, Module, Mux, ResetSignal, Signal, Value, unsigned
from amaranth.back import rtlil
from amaranth.hdl import Assert
from amaranth.hdl._ast import AnyConst, AnySeq, Assume, Cover, Initial
from amaranth.lib import data, stream, wiring

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ParameterError, ToolError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.credit_fifo import CreditFifo
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.frame_receiver import FrameReceiver
from ipvae.rtl.link.request_executor import RequestExecutor
from ipvae.rtl.link.result_buffer import ResultBuffer
from ipvae.rtl.link.skid_buffer import SkidBuffer

__all__ = ["StreamHarness", "Proof", "PROOFS", "run_proof", "mutants"]

#: SymbiYosys engines: k-induction (and bmc, cover) with smtbmc and Boolector; ABC's IC3/PDR, which
#: needs no invariant from the harness, and ABC's bit-level BMC, bmc3, for a deep bounded proof (ABC from
#: apt: berkeley-abc, scripts/setup.sh)
KINDUCTION, PDR, BMC3 = "smtbmc boolector", "abc pdr", "abc bmc3"

#: bits of the harness's beat counters (the solver's tracked beat lies below 2^COUNT_BITS - 2)
COUNT_BITS = 5


def held_until_taken(m, valid, ready, payload, check):
    """The stream rule on one port: once ``valid`` is high it stays high, with the same payload,
    until ``ready``. ``check`` is Assume (of a partner) or Assert (of the block under proof)."""
    payload = Value.cast(payload)
    started, p_v, p_r, p_p = Signal(), Signal(), Signal(), Signal(len(payload))
    m.d.sync += [started.eq(1), p_v.eq(valid), p_r.eq(ready), p_p.eq(payload)]
    with m.If(started & p_v & ~p_r):
        m.d.comb += [check(valid), check(payload == p_p)]


class StreamHarness(Elaboratable):
    """The stream contract and a tracked beat around ``dut`` (members ``i`` and ``o``, streams with
    the same payload layout). ``credits``: the source holds at most this many beats in the block
    (a credited producer, as the sampling pass issues on CreditFifo's credits); None: any source.
    """

    def __init__(self, dut, credits=None, invariant=None, sink_always_ready=False):
        """invariant(m, dut, occupancy, tracked_inside): assertions that tie the block's visible
        state to the harness's counters, so k-induction closes (a property of the block, proven too).
        sink_always_ready: the sink takes every beat at once (a block with no backpressure, such as
        a UART receiver, whose partner must keep up)."""
        self.dut, self.credits, self.invariant = dut, credits, invariant
        self.sink_always_ready = sink_always_ready

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        # the block's own module, elaborated here so an invariant can read what it observes
        m.submodules.dut = dut.elaborate(platform)
        dut._MustUse__silence = True            # used: its module is the submodule
        i, o = dut.i, dut.o
        width = len(Value.cast(i.payload))
        # a reset in the first cycle only; afterwards the block runs free
        m.d.comb += Assume(ResetSignal() == Initial())
        iv, ip, ordy = Signal(name="src_valid"), Signal(width, name="src_payload"), Signal(name="snk_ready")
        # free in every cycle (an undriven Amaranth signal would be a constant at its initial value)
        m.d.comb += [iv.eq(AnySeq(1)), ip.eq(AnySeq(width)), ordy.eq(1 if self.sink_always_ready else AnySeq(1)),
                     i.valid.eq(iv), i.payload.eq(ip), o.ready.eq(ordy)]
        held_until_taken(m, iv, i.ready, ip, Assume)             # the source keeps the stream rules ...
        held_until_taken(m, o.valid, ordy, o.payload, Assert)    # ... and so must the block on its output
        n_in, n_out = Signal(COUNT_BITS), Signal(COUNT_BITS)
        took, gave = Signal(), Signal()
        m.d.comb += [took.eq(iv & i.ready), gave.eq(o.valid & ordy)]
        m.d.sync += [n_in.eq(n_in + took), n_out.eq(n_out + gave)]
        m.d.comb += Assume(n_in < (1 << COUNT_BITS) - 2)       # no counter wraps
        m.d.comb += Assert(n_out <= n_in)                         # nothing leaves that did not enter
        if self.credits is not None:
            m.d.comb += Assume(~iv | (n_in - n_out < self.credits))
            m.d.comb += Assert(~iv | i.ready)                     # a credited beat always finds room
        # the tracked beat
        idx = Signal(COUNT_BITS)
        m.d.comb += idx.eq(AnyConst(COUNT_BITS))
        held, seen = Signal(width), Signal()
        with m.If(took & (n_in == idx)):
            m.d.sync += [held.eq(ip), seen.eq(1)]
        with m.If(gave & (n_out == idx)):
            m.d.comb += Assert(Mux(seen, Value.cast(o.payload) == held, took & (n_in == idx) &
                                   (Value.cast(o.payload) == ip)))
        if self.invariant is not None:
            occupancy = Signal(COUNT_BITS)
            inside = Signal()                    # the tracked beat is in the block, not yet out
            m.d.comb += [occupancy.eq(n_in - n_out), inside.eq(seen & (n_out <= idx))]
            m.d.comb += Assert(seen == (idx < n_in))
            self.invariant(m, dut, occupancy, inside, held, idx, n_out)
        return m


def skid_invariant(m, dut, occupancy, inside, held, idx, n_out):
    """At most one beat waits, exactly when ``i.ready`` is low; if it is the tracked one, ``o``
    shows it."""
    m.d.comb += [Assert(occupancy <= 1), Assert((occupancy == 1) == ~dut.i.ready)]
    with m.If(inside & (occupancy == 1) & (n_out == idx)):
        m.d.comb += Assert(dut.o.valid & (Value.cast(dut.o.payload) == held))


@dataclasses.dataclass(frozen=True)
class Proof:
    """One formal job: a name, what it states, how to build its harness, and its negative control."""
    name: str
    states: str
    harness: object          # () -> Elaboratable
    mutant: object           # () -> Elaboratable: the same harness around a broken block
    mutation: str
    engine: str = KINDUCTION  # the plain run's engine: KINDUCTION or PDR (prove), BMC3 (bounded)
    slow: bool = False       # the proof takes minutes: the default suite checks it to ``suite_depth``
    covers: int = 0          # D: the harness's Cover statements must each be reached within D cycles
    covered: str = ""        # what they show
    more_mutants: tuple = ()  # further negative controls: (mutant, mutation) pairs, one bug each
    bounded: int = 0         # D > 0: a bounded proof, bmc to depth D (its mode and depth unless asked otherwise)
    suite_depth: int = 12    # a slow proof: the depth of the default suite's bounded check of its properties

    @property
    def mode(self):
        """The mode a plain run uses: ``bmc`` for a bounded proof, ``prove`` (unbounded) otherwise."""
        return "bmc" if self.bounded else "prove"

    def engine_for(self, mode, mutant=False):
        """The engine a run uses: the proof's own in its own mode, smtbmc otherwise. A negative control
        must fail with a trace: bmc3's counterexample converts to one (through the ABC shim), PDR's from
        this ABC does not (yosys-witness rejects it), so a PDR proof's controls run k-induction, whose
        base case writes the trace (PDR refutes them too, within 5 frames)."""
        if mode != self.mode or (mutant and self.engine == PDR):
            return KINDUCTION
        return self.engine

    @property
    def controls(self):
        """Every negative control: (harness around a broken block, what is broken)."""
        return ((self.mutant, self.mutation),) + tuple(self.more_mutants)


def fifo_invariant(m, dut, occupancy, inside, held, idx, n_out):
    """The level counts the beats inside, the write pointer is the read pointer plus the level, and
    the tracked beat, while inside, sits in the entry (idx - n_out) places after the read pointer."""
    obs = dut.observe
    depth = len(obs["entries"])
    m.d.comb += [Assert(obs["level"] == occupancy), Assert(obs["wr"] == (obs["rd"] + obs["level"]) % depth)]
    slot = Signal(range(max(depth, 2)))
    m.d.comb += slot.eq((obs["rd"] + (idx - n_out)) % depth)
    with m.If(inside):
        m.d.comb += Assert(obs["entries"][slot] == held)


class UartHarness(Elaboratable):
    """A UARTTransmitter's pin wired to a UARTReceiver's, both at one divisor D (a board's: D >= 8),
    the transmitter fed any bytes under the stream rules, the receiver's output always taken (it has
    no backpressure: its partner, the frame receiver, takes a byte a cycle).

    Asserted: every byte the transmitter takes comes out of the receiver once, unchanged, exactly
    ``RXDONE = D // 2 + 3 + 9 D`` cycles after the cycle that follows its acceptance (the stop bit's
    middle, through the 2-flip-flop synchroniser and the edge register), and no other beat, framing
    error or overrun ever appears. Invariants, for the harness's age ``a`` of the byte on the wire
    (cycles since the one after its acceptance): the transmitter is in bit a // D with a % D of its
    cycles gone and the rest of the frame in its shift register, the receiver idle until it has seen
    the start edge (a = 3), then timing the start bit, then in data bit j with the first j bits of the
    byte in the top of its shift register. They make k-induction close: proven for all time.
    """

    @staticmethod
    def delivery(divisor):
        """RXDONE: cycles from the one after a byte is taken to its beat at the receiver's output."""
        return divisor // 2 + 3 + 9 * divisor

    def __init__(self, divisor, transmitter=None):
        from ipvae.rtl.link.uart import UARTReceiver, UARTTransmitter
        if divisor < 8:
            raise ParameterError(f"the UART harness needs a divisor >= 8 (a board's), got {divisor}")
        self.D = divisor
        self.tx, self.rx = (transmitter or UARTTransmitter)(divisor), UARTReceiver(divisor)

    def elaborate(self, platform):
        m = Module()
        D, tx, rx = self.D, self.tx, self.rx
        m.submodules.tx, m.submodules.rx = tx.elaborate(platform), rx.elaborate(platform)
        tx._MustUse__silence = rx._MustUse__silence = True
        to, ro = tx.observe, rx.observe
        m.d.comb += Assume(ResetSignal() == Initial())
        iv, ip = Signal(name="src_valid"), Signal(8, name="src_byte")
        m.d.comb += [iv.eq(AnySeq(1)), ip.eq(AnySeq(8)), tx.i.valid.eq(iv), tx.i.payload.eq(ip),
                     rx.rx.eq(tx.tx), rx.o.ready.eq(1)]
        held_until_taken(m, iv, tx.i.ready, ip, Assume)
        rxdone, amax = self.delivery(D), 10 * D + 1
        age = Signal(range(amax + 1), init=amax)
        cur = Signal(8)
        with m.If(iv & tx.i.ready):
            m.d.sync += [age.eq(0), cur.eq(ip)]
        with m.Elif(age != amax):
            m.d.sync += age.eq(age + 1)
        # the contract: the byte, once, at its time; nothing else
        m.d.comb += [Assert(rx.o.valid == (age == rxdone)), Assert(~rx.framing_error & ~rx.overrun),
                     Assert(age <= amax)]
        with m.If(rx.o.valid):
            m.d.comb += Assert(rx.o.payload == cur)
        # the transmitter's invariant
        frame = Signal(10)
        m.d.comb += frame.eq(Cat(0, cur, 1))
        m.d.comb += Assert(tx.i.ready == (age >= 10 * D))
        for k in range(10):
            with m.If((age >= k * D) & (age < (k + 1) * D)):
                m.d.comb += [Assert(to["left"] == 10 - k), Assert(to["timer"] == (k + 1) * D - 1 - age),
                             Assert(to["shift"] == (frame >> k)), Assert(tx.tx == frame[k])]
        with m.If(age >= 10 * D):
            m.d.comb += [Assert(to["left"] == 0), Assert(tx.tx)]
        # the receiver's
        start = D // 2 + 3
        with m.If((age < 3) | (age >= rxdone)):
            m.d.comb += Assert(ro["idle"])
        with m.If((age >= 3) & (age < start)):
            m.d.comb += [Assert(~ro["idle"] & ~ro["data"]), Assert(ro["timer"] == start - 1 - age)]
        for j in range(9):
            lo = start + j * D
            with m.If((age >= lo) & (age < lo + D)):
                m.d.comb += [Assert(ro["data"]), Assert(ro["bits"] == j), Assert(ro["timer"] == lo + D - 1 - age)]
                if j:
                    m.d.comb += Assert(ro["shift"][8 - j:] == cur[:j])
        return m


class ContractCore(IpvaeCore):
    """An IpvaeCore's ports with free behaviour, held only to the core's stream contract (assumed,
    and what the core's own tests check): it takes input beats only while loading, N of them, then
    none until it has offered S = K / P output beats and each was taken; it offers output beats only
    then, each held with its payload until taken; ``cycles`` is free. After a reset it is loading."""

    def __init__(self, config):
        super().__init__(config)
        N, S = self.fixed.n_inputs, self.slots
        self.observe = dict(loading=Signal(init=1, name="loading"), n_in=Signal(range(max(N, 2)), name="core_n_in"),
                            n_out=Signal(range(max(S, 2)), name="core_n_out"))

    def elaborate(self, platform):
        m = Module()
        N, S = self.fixed.n_inputs, self.slots
        width = len(Value.cast(self.o.payload))
        m.d.comb += [self.i.ready.eq(AnySeq(1)), self.o.valid.eq(AnySeq(1)), self.o.payload.eq(AnySeq(width)),
                     self.cycles.eq(AnySeq(32))]
        core_contract(m, self.i, self.o, N, S, Assume, **self.observe)
        return m


def core_contract(m, i, o, n_inputs, slots, check, *, loading, n_in, n_out):
    """The core's side of its stream contract, ``check``-ed (Assume of a free core, Assert of a real
    one): input beats on ``i`` only while ``loading``, ``n_inputs`` of them, then none until ``slots``
    output beats on ``o`` were each offered, held with their payload and taken; output beats only
    then. ``loading`` (reset 1), ``n_in`` and ``n_out`` are the caller's signals, counted here."""
    N, S = n_inputs, slots
    with m.If(loading):
        m.d.comb += check(~o.valid)
    with m.Else():
        m.d.comb += check(~i.ready)
    held_until_taken(m, o.valid, o.ready, o.payload, check)
    with m.If(i.valid & i.ready):
        m.d.sync += n_in.eq(Mux(n_in == N - 1, 0, n_in + 1))
        with m.If(n_in == N - 1):
            m.d.sync += loading.eq(0)
    with m.If(o.valid & o.ready):
        m.d.sync += n_out.eq(Mux(n_out == S - 1, 0, n_out + 1))
        with m.If(n_out == S - 1):
            m.d.sync += loading.eq(1)


class AxisHarness(Elaboratable):
    """The AXI4-Stream wrapper (rtl/ip/axi_stream.py) around a :class:`ContractCore` (N = 4, K = 6,
    P = 2: 3 beats a result). The slave port's partner is assumed to keep the AXI4-Stream rules
    (tvalid held until tready, tdata/tlast/tuser stable meanwhile); asserted on the master port:
    tvalid low in the first cycle after a reset; once high, tvalid stays high and tdata, tlast and
    tuser stay stable until tready; tlast exactly on the K/P-th beat of each result (counted here).
    Invariants: the wrapper's beat counts equal the core's. A compositional proof: it holds for any
    core that keeps the contract, whatever its arithmetic."""

    def __init__(self, wrapper_class=None):
        from ipvae.rtl.ip.axi_stream import AxiStreamCore
        tensors, _ = random_float_model(4, 6, seed=1)
        self.core = ContractCore(CoreConfig(fold(tensors, Formats()), 2))
        self.dut = (wrapper_class or AxiStreamCore)(self.core)

    def elaborate(self, platform):
        m = Module()
        dut, core = self.dut, self.core
        m.submodules.dut = dut.elaborate(platform)
        dut._MustUse__silence = True
        S = core.slots
        m.d.comb += Assume(ResetSignal() == Initial())
        i, o = dut.i, dut.o
        iw = len(Value.cast(i.payload))
        m.d.comb += [i.valid.eq(AnySeq(1)), i.payload.eq(AnySeq(iw)), o.ready.eq(AnySeq(1))]
        held_until_taken(m, i.valid, i.ready, i.payload, Assume)      # the slave partner's AXI4-Stream rules
        held_until_taken(m, o.valid, o.ready, o.payload, Assert)      # the master port's
        after_reset = Signal(reset_less=True)
        m.d.sync += after_reset.eq(ResetSignal())
        with m.If(after_reset):
            m.d.comb += Assert(~o.valid)
        beats = Signal(range(max(S, 2)))
        with m.If(o.valid & o.ready):
            m.d.sync += beats.eq(Mux(beats == S - 1, 0, beats + 1))
        with m.If(o.valid):
            m.d.comb += Assert(o.payload.last == (beats == S - 1))
        m.d.comb += [Assert(beats == core.observe["n_out"]), Assert(dut.observe["slot"] == beats),
                     Assert(dut.observe["n"] == core.observe["n_in"])]
        return m


def _crc8_bitwise(crc, byte):
    """The protocol's CRC-8 (polynomial 0x07) one bit at a time: the harness's own reference, not
    the parity trees the receiver uses."""
    v = crc ^ byte
    for _ in range(8):
        v = Mux(v[7], (v << 1)[:8] ^ 0x07, (v << 1)[:8])
    return v


def _byte_source(m, rcv):
    """Free request bytes into a frame receiver (elaborated: its ``observe`` is read) under the stream
    rules, and the harness's reference CRC of the frame so far (reset by ``start``, stepped bit by bit
    on each type, length and payload byte). Returns (byte, taken, in_frame, crc)."""
    f, obs = rcv.frame, rcv.observe
    m.d.comb += Assume(ResetSignal() == Initial())
    rv, rp = Signal(name="src_valid"), Signal(8, name="src_byte")
    m.d.comb += [rv.eq(AnySeq(1)), rp.eq(AnySeq(8)), rcv.rx.valid.eq(rv), rcv.rx.payload.eq(rp)]
    held_until_taken(m, rv, rcv.rx.ready, rp, Assume)      # a byte waits until taken, unchanged
    taken, in_frame, crc = Signal(), Signal(), Signal(8)
    m.d.comb += [taken.eq(rv & rcv.rx.ready), in_frame.eq(~obs["hunt"] & ~obs["wait"] & ~obs["header"])]
    with m.If(f.start):
        m.d.sync += crc.eq(0)
    with m.Elif(taken & in_frame & ~f.done):
        m.d.sync += crc.eq(_crc8_bitwise(crc, rp))
    return rp, taken, in_frame, crc


class FrameHarness(Elaboratable):
    """The frame receiver (rtl/link/frame_receiver.py) under any byte stream (the stream rules
    assumed of its source) and any ``hold``/``resume`` from the executor.

    - Timeout: in a frame state (type, length, payload, checksum) it never waits more than
      ``timeout`` cycles for a byte: after ``timeout`` cycles without one it has aborted and waits
      for the executor, whose ``resume`` returns it to hunting for a magic byte the next cycle.
      Invariant: its timer equals the harness's count of cycles without a byte.
    - Checksum gate: in the cycle after ``done``, ``crc_ok`` is high exactly when the checksum byte
      equals the CRC-8 (computed here bit by bit) of the frame's type, length and payload bytes.
      Invariant: its running CRC equals the harness's.
    - Covers: a frame of each type (INFO, LOAD, INFER) received with a good checksum.
    """

    def __init__(self, receiver_class=FrameReceiver, *, n_inputs=2, timeout=5):
        self.dut = receiver_class(n_inputs=n_inputs, ram=True, timeout_cycles=timeout)
        self.timeout = timeout

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        m.submodules.dut = dut.elaborate(platform)
        dut._MustUse__silence = True
        f, obs = dut.frame, dut.observe
        rp, taken, in_frame, crc = _byte_source(m, dut)
        m.d.comb += [f.hold.eq(AnySeq(1)), f.resume.eq(AnySeq(1))]
        # timeout
        stall = Signal(range(self.timeout + 2))
        m.d.sync += stall.eq(Mux(in_frame & ~taken, stall + 1, 0))
        with m.If(in_frame):
            m.d.comb += [Assert(stall <= self.timeout - 1), Assert(obs["timer"] == stall)]
        p_back = Signal()
        m.d.sync += p_back.eq(obs["wait"] & f.resume)
        with m.If(p_back):
            m.d.comb += Assert(obs["hunt"])
        # checksum gate
        p_done, p_match = Signal(), Signal()
        m.d.sync += [p_done.eq(f.done), p_match.eq(rp == crc)]
        with m.If(in_frame):
            m.d.comb += Assert(obs["crc"] == crc)
        with m.If(p_done):
            m.d.comb += Assert(obs["crc_ok"] == p_match)
        for kind in (proto.INFO, proto.LOAD, proto.INFER):
            m.d.comb += Cover(f.done & (rp == crc) & (f.kind == kind) & ~f.err_valid)
        return m


class _CrcIgnored:
    """A frame interface whose ``crc_ok`` is always high (the negative control's executor sees it)."""

    def __init__(self, frame):
        self._frame = frame
        self.crc_ok = Value.cast(1)

    def __getattr__(self, name):
        return getattr(self._frame, name)


class ExecutorIgnoresCrc(RequestExecutor):
    """A broken RequestExecutor: it decides as if every checksum matched."""

    def elaborate(self, platform):
        port = self.frame
        self.frame = _CrcIgnored(port)
        try:
            return super().elaborate(platform)
        finally:
            self.frame = port


class GateHarness(Elaboratable):
    """The frame receiver and the request executor of the host link (rtl/link/frame_receiver.py,
    rtl/link/request_executor.py) as the link joins them, under any byte stream (the stream rules
    assumed of its source) and any behaviour of the core and the reply writer around them: the
    executor feeds an INFER's codes to the core, and starts an INFO or LOAD reply, only for a frame
    of that type whose checksum byte equals the CRC-8 of its type, length and payload (computed here
    bit by bit). A bitstream-weights build (LOAD is refused whole: READ_ONLY), N = 2, timeout 5."""

    def __init__(self, executor_class=RequestExecutor, *, n_inputs=2, timeout=5):
        tensors, _ = random_float_model(n_inputs, 4, seed=1)
        core = IpvaeCore(CoreConfig(fold(tensors, Formats()), 2, max_iterations=3))
        core._MustUse__silence = True            # only its sizes are read
        self.receiver = FrameReceiver(n_inputs=n_inputs, ram=False, timeout_cycles=timeout)
        self.executor = executor_class(core)

    def elaborate(self, platform):
        m = Module()
        rcv, exe = self.receiver, self.executor
        m.submodules.receiver = rcv.elaborate(platform)     # elaborated here: their ``observe`` is read
        m.submodules.executor = exe.elaborate(platform)
        rcv._MustUse__silence = exe._MustUse__silence = True
        wiring.connect(m, rcv.frame, exe.frame)
        f, obs, st = rcv.frame, rcv.observe, exe.observe
        rp, taken, in_frame, crc = _byte_source(m, rcv)
        m.d.comb += [exe.x.ready.eq(AnySeq(1)), exe.result_valid.eq(AnySeq(1)), exe.cycles.eq(AnySeq(32)),
                     exe.core_busy.eq(AnySeq(1)), exe.reply_busy.eq(AnySeq(1)), exe.reply_done.eq(AnySeq(1))]
        good, kind = Signal(), Signal(8)                # the last frame: checksum matched, its type
        with m.If(f.start):
            m.d.sync += good.eq(0)
        with m.If(f.done):
            m.d.sync += [good.eq(rp == crc), kind.eq(f.kind)]
        with m.If(exe.x.valid):
            m.d.comb += Assert(good & (kind == proto.INFER))
        with m.If(exe.reply_start & (exe.reply_kind == proto.INFO_REPLY)):
            m.d.comb += Assert(good & (kind == proto.INFO))
        with m.If(exe.reply_start & (exe.reply_kind == proto.LOAD_REPLY)):
            m.d.comb += Assert(good & (kind == proto.LOAD))
        # invariants (asserted, so proven): the receiver's running CRC is the harness's; while the
        # executor decides or acts on a frame, the receiver waits and the harness holds its verdict
        decoded = [Assert(f.is_info == (f.kind == proto.INFO)), Assert(f.is_load == (f.kind == proto.LOAD)),
                   Assert(f.is_infer == (f.kind == proto.INFER))]  # (a BAD_MAGIC clears only the type)
        with m.If(in_frame):
            m.d.comb += [Assert(obs["crc"] == crc), *decoded]
        with m.If(~st["idle"]):
            m.d.comb += Assert(obs["wait"])
        with m.If(st["decide"]):
            m.d.comb += [Assert(obs["crc_ok"] == good), Assert(f.kind == kind), *decoded]
        # a type this build does not take is an error of the request from its type byte on
        acted = (f.kind == proto.INFO) | (f.kind == proto.INFER) | ((f.kind == proto.LOAD) & exe.ram)
        with m.If((in_frame & ~obs["type"]) | st["decide"]):
            m.d.comb += Assert(acted | (st["err"] != 0))
        with m.If(st["core_wait"] | st["feed_first"] | st["feed"]):
            m.d.comb += Assert(good & (kind == proto.INFER))
        for reply, request in ((proto.INFO_REPLY, proto.INFO), (proto.LOAD_REPLY, proto.LOAD)):
            with m.If((st["reply_wait"] | st["reply"]) & (st["reply_kind"] == reply)):
                m.d.comb += Assert(good & (kind == request))
        return m


def _payload():
    return data.StructLayout({"x": unsigned(4), "y": unsigned(2)})


class CountsOnly(Elaboratable):
    """A ResultBuffer (rtl/link/result_buffer.py) in the mode that buffers: counts-only results
    (``i_with_u`` = ``o_with_u`` = 0, as the host link runs a pipelined INFER), seen through its z
    beats: ``i`` and ``o`` carry z only (u is the core's, read only when passing through). The
    core is a small real IpvaeCore (K = 6, P = 2: 3 beats a result, a FIFO of 4)."""

    def __init__(self, buffer_class=ResultBuffer):
        tensors, _ = random_float_model(4, 6, seed=1)
        core = IpvaeCore(CoreConfig(fold(tensors, Formats()), 2))
        core._MustUse__silence = True            # only its output layout and K/P are read
        self.buffer = buffer_class(core)
        beat = data.StructLayout({"z": unsigned(len(self.buffer.i.payload.z))})
        self.i, self.o = stream.Signature(beat).flip().create(), stream.Signature(beat).create()

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buf = self.buffer
        m.d.comb += [buf.i_with_u.eq(0), buf.o_with_u.eq(0), buf.i.payload.u.eq(AnySeq(len(buf.i.payload.u))),
                     buf.i.valid.eq(self.i.valid), buf.i.payload.z.eq(self.i.payload.z), self.i.ready.eq(buf.i.ready),
                     self.o.valid.eq(buf.o.valid), self.o.payload.z.eq(buf.o.payload.z), buf.o.ready.eq(self.o.ready)]
        return m


def mutants():
    """Deliberately broken variants of the blocks, one bug each (the negative controls)."""

    class SkidOverwrites(SkidBuffer):
        """The skid register loads every cycle, also while it holds a waiting beat."""
        def elaborate(self, platform):
            m = Module()
            full = Signal()
            skid = Signal.like(self.i.payload.as_value())
            m.d.comb += [self.i.ready.eq(~full), self.o.valid.eq(full | self.i.valid),
                         self.o.payload.eq(Mux(full, skid, self.i.payload))]
            m.d.sync += [skid.eq(self.i.payload), full.eq(self.o.valid & ~self.o.ready)]
            return m

    class FifoForgetsAPop(CreditFifo):
        """The level does not fall when the output takes a beat that arrived the same cycle."""
        def elaborate(self, platform):
            return _fifo_forgetting_a_pop(self)

    from ipvae.rtl.link.uart import UARTTransmitter

    class TransmitterBitShort(UARTTransmitter):
        """Each bit lasts divisor - 1 cycles (a transmitter off the receiver's rate by one cycle a
        bit): by the last data bit the receiver samples the stop bit."""
        def __init__(self, divisor):
            super().__init__(divisor - 1)

    class ReceiverWaitsOnHold(FrameReceiver):
        """The timeout timer stops while the executor holds the stream: a hold that never ends
        keeps a partial frame forever."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            with m.If(self.frame.hold):
                m.d.sync += self.observe["timer"].eq(self.observe["timer"])
            return m

    class ReceiverSkipsType(FrameReceiver):
        """The checksum leaves out the type byte."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            with m.If(self.observe["type"]):
                m.d.sync += self.observe["crc"].eq(0)
            return m

    from ipvae.rtl.ip.axi_stream import AxiStreamCore

    class AxisLastCountsOffers(AxiStreamCore):
        """tlast's beat counter also advances on a beat offered and not taken."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            slot, S = self.observe["slot"], self.core.slots
            with m.If(self.o.valid & ~self.o.ready):
                m.d.sync += slot.eq(Mux(slot == S - 1, 0, slot + 1))
            return m

    class AxisDataOnlyWhenReady(AxiStreamCore):
        """tdata shows the core's beat only while tready is high (zero while it waits)."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.d.comb += self.o.payload.data.eq(Mux(self.o.ready, Value.cast(self.core.o.payload), 0))
            return m

    class BufferReadsUnasked(ResultBuffer):
        """The FIFO's read enable ignores the writer's ready: a beat offered while the writer
        stalls is dropped."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.d.comb += m.submodules.fifo.r_en.eq(~self.o_with_u)     # the bug: without self.o.ready
            return m

    return dict(skid=SkidOverwrites, fifo=FifoForgetsAPop, result=BufferReadsUnasked, uart=TransmitterBitShort,
                frame_timeout=ReceiverWaitsOnHold, frame_crc=ReceiverSkipsType, axis_last=AxisLastCountsOffers,
                axis_data=AxisDataOnlyWhenReady)


def _fifo_forgetting_a_pop(fifo):
    """CreditFifo's logic with one bug: the pop of the last beat leaves ``level`` at 1."""
    from amaranth import Array
    m = Module()
    D = fifo.depth
    entries = Array(Signal.like(fifo.i.payload.as_value(), name=f"entry{n}") for n in range(D))
    wr, rd = Signal(range(max(D, 2))), Signal(range(max(D, 2)))
    level = Signal(range(D + 1))
    push, pop = Signal(), Signal()
    m.d.comb += [fifo.i.ready.eq(level != D), push.eq(fifo.i.valid & fifo.i.ready),
                 fifo.o.valid.eq(level != 0), fifo.o.payload.eq(entries[rd]),
                 pop.eq(fifo.o.valid & fifo.o.ready), fifo.credit.eq(pop)]
    with m.If(push):
        m.d.sync += [entries[wr].eq(fifo.i.payload), wr.eq(0 if D == 1 else (wr + 1) % D)]
    with m.If(pop):
        m.d.sync += rd.eq(0 if D == 1 else (rd + 1) % D)
    m.d.sync += level.eq(level + push - (pop & (level != 1)))     # the bug: the last beat never leaves the count
    fifo.observe = dict(level=level, rd=rd, wr=wr, entries=entries)
    return m


def board_divisors():
    """{UART divisor: the boards that use it}, from each board's constraints (clock and baud)."""
    from ipvae.rtl.boards.registry import BOARDS
    from ipvae.rtl.link.uart import uart_divisor
    out = {}
    for name, board in BOARDS.items():
        out.setdefault(uart_divisor(board.core_hz, board.baud), []).append(name)
    return dict(sorted(out.items()))


def _uart_proofs(bad):
    return tuple(
        Proof(f"uart_d{d}", f"UARTTransmitter pin to UARTReceiver pin at divisor {d} ({', '.join(boards)}): every "
                            f"byte out once, unchanged, {UartHarness.delivery(d)} cycles after it is taken; no framing "
                            f"error, no overrun",
              lambda d=d: UartHarness(d), lambda d=d: UartHarness(d, bad["uart"]),
              "the transmitter's bits last divisor - 1 cycles")
        for d, boards in board_divisors().items())


def _proofs():
    from . import formal_cycles as fc

    bad = mutants()
    return {p.name: p for p in (*_uart_proofs(bad),
        Proof("skid_buffer", "SkidBuffer (rtl/link/skid_buffer.py): the stream rules on o; every beat leaves once, "
                             "in order, unchanged",
              lambda: StreamHarness(SkidBuffer(_payload()), invariant=skid_invariant),
              lambda: StreamHarness(bad["skid"](_payload()), invariant=skid_invariant),
              "the skid register also loads while it holds a waiting beat"),
        Proof("result_buffer", "ResultBuffer (rtl/link/result_buffer.py), counts-only results (the buffering mode): "
                               "the stream rules on o; every z beat leaves once, in order, unchanged",
              lambda: StreamHarness(CountsOnly()),
              lambda: StreamHarness(CountsOnly(bad["result"])),
              "the FIFO is read whenever the writer is not taking u, ready or not",
              engine=PDR, slow=True),
        Proof("frame_receiver", "FrameReceiver (rtl/link/frame_receiver.py), timeout 5, N = 2, any bytes, hold and "
                                "resume: never more than the timeout without a byte inside a frame, then back to "
                                "hunting on resume; crc_ok exactly when the checksum byte is the CRC-8 of type, "
                                "length and payload (computed bit by bit)",
              lambda: FrameHarness(),
              lambda: FrameHarness(bad["frame_timeout"]),
              "the timeout timer stops while the executor holds the stream",
              covers=24, covered="a frame of each type (INFO, LOAD, INFER) taken with a good checksum",
              more_mutants=((lambda: FrameHarness(bad["frame_crc"]), "the checksum leaves out the type byte"),)),
        Proof("executor_gate", "FrameReceiver -> RequestExecutor (rtl/link/), timeout 5, N = 2, any bytes, any core "
                               "and reply writer: an INFER's codes reach the core, and an INFO or LOAD reply starts, "
                               "only for a frame of that type whose checksum byte is the CRC-8 of type, length and "
                               "payload (computed bit by bit)",
              lambda: GateHarness(), lambda: GateHarness(ExecutorIgnoresCrc),
              "the executor decides as if every checksum matched"),
        Proof("axis", "AxiStreamCore (rtl/ip/axi_stream.py) around any core keeping the core's stream contract "
                      "(ContractCore), the slave partner keeping AXI4-Stream's rules: on the master port tvalid low "
                      "after reset, tvalid held and tdata/tlast/tuser stable until tready, tlast exactly on the "
                      "K/P-th beat of each result",
              lambda: AxisHarness(), lambda: AxisHarness(bad["axis_last"]),
              "tlast's beat counter also advances on a beat offered and not taken",
              more_mutants=((lambda: AxisHarness(bad["axis_data"]),
                             "tdata shows the core's beat only while tready is high"),)),
        Proof("credit_fifo", "CreditFifo (rtl/core/credit_fifo.py) behind a producer holding "
                             "the search sampler's timing.issue_credits = 2 credits: a credited beat always finds "
                             "room; every beat leaves once, in order, unchanged",
              lambda: StreamHarness(CreditFifo(_payload(), 2), credits=2, invariant=fifo_invariant),
              lambda: StreamHarness(bad["fifo"](_payload(), 2), credits=2, invariant=fifo_invariant),
              "the level forgets the pop of the last beat"),
        Proof("sequencer", "IpvaeCore's sequencer (rtl/core/ipvae_core.py), N = 2, K = 4, P = 2, the search sampler, "
                           "T <= 1, inputs, seed, T and the samplers' random numbers free: its cycles equal "
                           "cycle_model's sum of the drive, passes and lateral phases of the spikes it drew; it keeps "
                           "the core's side of the stream contract",
              lambda: fc.SequencerHarness(), lambda: fc.SequencerHarness(fc.LateralSlowOnTwoEntries),
              "the lateral units stay busy one cycle longer after a phase with two or more slot entries",
              engine=BMC3, bounded=fc.DEPTH, slow=True, suite_depth=fc.SUITE_DEPTH),
        Proof("array_sequencer", "ArrayCore's sequencer (rtl/core/array_core.py), N = 2, K = 4, S = 2 sampler units, "
                                 "L = 2 lateral lanes, the search sampler, T <= 1, inputs, seed, T and the samplers' "
                                 "random numbers free: its cycles equal cycle_model.array_cycles of the spikes it "
                                 "drew; it keeps the core's side of the stream contract",
              lambda: fc.ArraySequencerHarness(), lambda: fc.ArraySequencerHarness(fc.ArraySlowAfterHighCount),
              "the lateral array takes the next event a cycle late after a spike of count 8 or more",
              engine=BMC3, bounded=fc.ARRAY_DEPTH, slow=True, suite_depth=fc.ARRAY_SUITE_DEPTH),
    )}


PROOFS = _proofs()


def _tools(engine=KINDUCTION):
    exe = Path(sys.executable).parent
    tools = {name: shutil.which(f"yowasp-{name}") or str(exe / f"yowasp-{name}")
             for name in ("sby", "yosys", "yosys-smtbmc", "yosys-witness", "boolector")}
    missing = [f"yowasp-{n}" for n, p in tools.items() if not Path(p).exists() and not shutil.which(p)]
    if engine.startswith("abc"):
        # YoWASP's Yosys links ABC in and ships no yosys-abc program: Debian's ABC does PDR and bmc3
        tools["abc"] = shutil.which("yosys-abc") or shutil.which("berkeley-abc")
        if tools["abc"] is None:
            missing.append("berkeley-abc (apt) or yosys-abc")
    if missing:
        raise ToolError(f"formal tools not installed: {', '.join(missing)} (bash scripts/setup.sh installs them)")
    return tools


_ABC_SHIM = r"""#!/bin/sh
if [ "$1" = "-c" ]; then
  cmd=$(printf '%s' "$2" | sed 's/pdr -v -l/pdr -v/'); shift 2
  "ABC" -c "$cmd" "$@"; rc=$?
  for f in engine_*/trace.aiw; do [ -f "$f" ] && sed -i 's/\([01x]\)# DONE$/\1\n# DONE/' "$f"; done
  exit $rc
fi
exec "ABC" "$@"
"""


def _abc_shim(abc):
    """A wrapper for SymbiYosys's ABC call, for Debian's ABC (2022): sby asks ``pdr -v -l`` (per-output
    status lines), an option that ABC predates (without it ABC still proves or refutes the one property
    sby folds the assertions into); and that ABC's counterexample (``write_cex -a``) ends its last step's
    line with ``# DONE``, which yosys-witness reads as a bad step: the shim breaks the line, so the trace
    converts to a VCD."""
    return _ABC_SHIM.replace("ABC", abc)


def witness_vcd(yw_path, vcd_path):
    """A counterexample VCD from a Yosys witness trace (``trace.yw``: the values the solver chose for
    every free signal, step by step), for ABC's counterexamples: this Yosys build has no ``sim``
    command to replay one through every signal, and smtbmc's replay misses ports Amaranth names with
    a ``$`` suffix. The VCD holds the free signals (inputs, AnyConst/AnySeq values), one step a clock."""
    import json

    data = json.loads(Path(yw_path).read_text())
    sigs = data["signals"]
    ids = [_vcd_id(k) for k in range(len(sigs))]
    lines = ["$timescale 1 ns $end", "$scope module top $end"]
    for sig, ident in zip(sigs, ids):
        name = ".".join(p.lstrip("\\") for p in sig["path"]).replace(" ", "_")
        lo = sig["offset"]
        lines.append(f"$var wire {sig['width']} {ident} {name}[{lo + sig['width'] - 1}:{lo}] $end")
    lines += ["$upscope $end", "$enddefinitions $end"]
    for t, step in enumerate(data["steps"]):
        bits = step["bits"][::-1]                # the first signal's lowest bit is the string's last character
        lines.append(f"#{10 * t}")
        pos = 0
        for sig, ident in zip(sigs, ids):
            if sig["init_only"] and t:
                continue
            value = bits[pos:pos + sig["width"]][::-1].replace("?", "x")
            pos += sig["width"]
            lines.append(f"b{value} {ident}")
    Path(vcd_path).write_text("\n".join(lines) + "\n")
    return Path(vcd_path)


def _vcd_id(k):
    chars = [chr(c) for c in range(33, 127)]
    out = ""
    while True:
        out += chars[k % len(chars)]
        k //= len(chars)
        if not k:
            return out


def run_proof(name, out_dir, *, mode=None, depth=None, mutant=False, control=0, log=None):
    """Run proof ``name`` (a key of :data:`PROOFS`) in ``out_dir``; returns a dict: name, engine,
    depth ("unbounded" for a proof in prove mode), result (PASS / FAIL / ERROR), seconds, and the
    counterexample VCD on failure. ``mutant``: negative control number ``control`` (must FAIL). ``mode`` and
    ``depth`` default to the proof's own: prove (k-induction to depth 20, or PDR, which has no depth), or
    bmc to its bounded depth; "bmc" checks to ``depth``; ``mode`` "cover": every Cover of the harness
    must be reached within the proof's ``covers`` depth."""
    if name not in PROOFS:
        raise ParameterError(f"unknown formal block {name!r}; choose one of {', '.join(PROOFS)}")
    proof = PROOFS[name]
    mode = mode or proof.mode
    if mode not in ("prove", "bmc", "cover"):
        raise ParameterError(f"mode must be prove, bmc or cover, got {mode!r}")
    if mode == "cover" and not proof.covers:
        raise ParameterError(f"formal block {name!r} has no covers")
    depth = depth or (proof.covers if mode == "cover" else proof.bounded or 20)
    engine = proof.engine_for(mode, mutant)
    tools = _tools(engine)
    job = f"{name}{f'_mutant{control}' if mutant else ''}_{mode}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if mutant and not 0 <= control < len(proof.controls):
        raise ParameterError(f"formal block {name!r} has {len(proof.controls)} negative control(s), got {control}")
    design = (proof.controls[control][0] if mutant else proof.harness)()
    (out / f"{job}.il").write_text(rtlil.convert(design, ports=[]))
    (out / f"{job}.sby").write_text("\n".join([
        "[options]", f"mode {mode}", *([f"depth {depth}"] if engine != PDR else []),
        # an ABC counterexample stays a witness (trace.yw): no replay (witness_vcd writes its VCD)
        *(["vcd off"] if engine.startswith("abc") else []), "", "[engines]",
        engine, "",
        "[script]", f"read_rtlil {job}.il", "prep -top top", "", "[files]", f"{job}.il", ""]))
    # sby calls the solver by its plain name: a shim folder in front of PATH
    shim = out / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "boolector").write_text(f'#!/bin/sh\nexec "{tools["boolector"]}" "$@"\n')
    (shim / "boolector").chmod(0o755)
    abc = []
    if engine.startswith("abc"):
        (shim / "abc").write_text(_abc_shim(tools["abc"]))
        (shim / "abc").chmod(0o755)
        abc = ["--abc", str((shim / "abc").resolve())]
    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.time()
    r = subprocess.run([tools["sby"], "-f", "--yosys", tools["yosys"], "--smtbmc", tools["yosys-smtbmc"],
                        "--witness", tools["yosys-witness"], *abc, f"{job}.sby"], cwd=out, env=env,
                       capture_output=True, text=True)
    seconds = time.time() - t0
    text = r.stdout + r.stderr
    result = ("PASS" if "DONE (PASS" in text else "FAIL" if "DONE (FAIL" in text
              else "UNKNOWN" if "DONE (UNKNOWN" in text else "ERROR")
    traces = sorted((out / job).rglob("*.vcd")) if (out / job).exists() else []
    witness = out / job / "engine_0" / "trace.yw"
    if result == "FAIL" and not traces and witness.exists():
        traces = [witness_vcd(witness, witness.with_suffix(".vcd"))]
    rec = dict(block=name, mutant=mutant, control=control if mutant else None, engine=engine,
               depth="unbounded" if mode == "prove" and result == "PASS" else depth, mode=mode, result=result,
               seconds=round(seconds, 1), trace=str(traces[0]) if traces and result == "FAIL" else None,
               log=str(out / job / "logfile.txt"))
    if result == "ERROR" and log is not None:
        log("\n".join(text.splitlines()[-8:]))
    return rec
