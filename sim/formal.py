"""Formal proofs of the stream contracts with SymbiYosys (YoWASP builds), beside the blocks and never
in a synthesised netlist.

A harness wraps one stream block: its input is driven by free signals (any value, any cycle) under
the stream rules assumed of a well-behaved source (valid held until ready, payload stable while
waiting), and the harness asserts the same rules on the block's output plus a tracked beat: one
input beat, chosen by the solver (an ``AnyConst`` index), must leave as the output beat with the
same index and the same payload, so no beat is lost, duplicated, reordered or corrupted, and no
more beats leave than entered. Each proof runs SymbiYosys in ``prove`` mode (k-induction with the
smtbmc engine and Boolector: unbounded), or ``bmc`` to a depth. Each property has a negative
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

from amaranth import Elaboratable, Module, Mux, ResetSignal, Signal, Value, unsigned
from amaranth.back import rtlil
from amaranth.hdl import Assert
from amaranth.hdl._ast import AnyConst, AnySeq, Assume, Initial
from amaranth.lib import data, stream

from ipvae.golden_model.errors import ParameterError, ToolError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.credit_fifo import CreditFifo
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.result_buffer import ResultBuffer
from ipvae.rtl.link.skid_buffer import SkidBuffer

__all__ = ["StreamHarness", "Proof", "PROOFS", "run_proof", "mutants"]

#: bits of the harness's beat counters (the solver's tracked beat lies below 2^COUNT_BITS - 2)
COUNT_BITS = 5


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
        started = Signal()
        m.d.sync += started.eq(1)
        p_iv, p_irdy, p_ip = Signal(), Signal(), Signal(width)
        p_ov, p_ordy, p_op = Signal(), Signal(), Signal(width)
        m.d.sync += [p_iv.eq(iv), p_irdy.eq(i.ready), p_ip.eq(ip),
                     p_ov.eq(o.valid), p_ordy.eq(ordy), p_op.eq(Value.cast(o.payload))]
        # the source keeps the stream rules ...
        with m.If(started & p_iv & ~p_irdy):
            m.d.comb += [Assume(iv), Assume(ip == p_ip)]
        # ... and so must the block on its output
        with m.If(started & p_ov & ~p_ordy):
            m.d.comb += [Assert(o.valid), Assert(Value.cast(o.payload) == p_op)]
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
    bounded: int = 0         # 0: proven unbounded (k-induction); D: a bounded model check to depth D
    why_bounded: str = ""    # what keeps k-induction from closing


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


class UartLoop(Elaboratable):
    """A UARTTransmitter's pin wired to a UARTReceiver's at one divisor: bytes in at ``i``, out at
    ``o``; ``errors`` is high in a cycle the receiver flags a framing error or an overrun."""

    def __init__(self, divisor, transmitter=None):
        from ipvae.rtl.link.uart import UARTReceiver, UARTTransmitter
        self.divisor = divisor
        self.tx, self.rx = (transmitter or UARTTransmitter)(divisor), UARTReceiver(divisor)
        self.i = stream.Signature(unsigned(8)).flip().create()
        self.o = stream.Signature(unsigned(8)).create()
        self.errors = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = tx, rx = self.tx, self.rx
        m.d.comb += [tx.i.valid.eq(self.i.valid), tx.i.payload.eq(self.i.payload), self.i.ready.eq(tx.i.ready),
                     rx.rx.eq(tx.tx), self.o.valid.eq(rx.o.valid), self.o.payload.eq(rx.o.payload),
                     rx.o.ready.eq(self.o.ready), self.errors.eq(rx.framing_error | rx.overrun)]
        return m


def uart_invariant(m, dut, occupancy, inside, held, idx, n_out):
    """No framing error and no overrun, ever."""
    m.d.comb += Assert(~dut.errors)


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

    class BufferReadsUnasked(ResultBuffer):
        """The FIFO's read enable ignores the writer's ready: a beat offered while the writer
        stalls is dropped."""
        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.d.comb += m.submodules.fifo.r_en.eq(~self.o_with_u)     # the bug: without self.o.ready
            return m

    return dict(skid=SkidOverwrites, fifo=FifoForgetsAPop, result=BufferReadsUnasked, uart=TransmitterBitShort)


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


def _proofs():
    bad = mutants()
    return {p.name: p for p in (
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
              bounded=12, why_bounded="its storage is amaranth.lib.fifo.SyncFIFOBuffered, whose memory and "
                                      "pointers no invariant here can name (induction fails on unreachable "
                                      "contents); depth 12 fills its 4 entries and drains them under any stalls "
                                      "(depth 24 takes ten minutes)"),
        Proof("credit_fifo", "CreditFifo (rtl/core/credit_fifo.py) behind a producer holding "
                             "the search sampler's timing.issue_credits = 2 credits: a credited beat always finds "
                             "room; every beat leaves once, in order, unchanged",
              lambda: StreamHarness(CreditFifo(_payload(), 2), credits=2, invariant=fifo_invariant),
              lambda: StreamHarness(bad["fifo"](_payload(), 2), credits=2, invariant=fifo_invariant),
              "the level forgets the pop of the last beat"),
    )}


PROOFS = _proofs()


def _tools():
    exe = Path(sys.executable).parent
    tools = {name: shutil.which(f"yowasp-{name}") or str(exe / f"yowasp-{name}")
             for name in ("sby", "yosys", "yosys-smtbmc", "yosys-witness", "boolector")}
    missing = [n for n, p in tools.items() if not Path(p).exists() and not shutil.which(p)]
    if missing:
        raise ToolError(f"formal tools not installed: {', '.join('yowasp-' + n for n in missing)} "
                        "(bash scripts/setup.sh installs them)")
    return tools


def run_proof(name, out_dir, *, mode=None, depth=None, mutant=False, log=None):
    """Run proof ``name`` (a key of :data:`PROOFS`) in ``out_dir``; returns a dict: name, engine,
    depth ("unbounded" for a k-induction proof), result (PASS / FAIL / ERROR), seconds, and the
    counterexample VCD on failure. ``mutant``: the negative control (must FAIL). ``mode`` and
    ``depth`` default to the proof's own: k-induction to depth 20, or its bounded depth."""
    if name not in PROOFS:
        raise ParameterError(f"unknown formal block {name!r}; choose one of {', '.join(PROOFS)}")
    proof = PROOFS[name]
    mode = mode or ("bmc" if proof.bounded else "prove")
    depth = depth or proof.bounded or 20
    if mode not in ("prove", "bmc"):
        raise ParameterError(f"mode must be prove or bmc, got {mode!r}")
    tools = _tools()
    job = f"{name}{'_mutant' if mutant else ''}_{mode}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    design = (proof.mutant if mutant else proof.harness)()
    (out / f"{job}.il").write_text(rtlil.convert(design, ports=[]))
    (out / f"{job}.sby").write_text("\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "", "[engines]", "smtbmc boolector", "",
        "[script]", f"read_rtlil {job}.il", "prep -top top", "", "[files]", f"{job}.il", ""]))
    # sby calls the solver by its plain name: a shim folder in front of PATH
    shim = out / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "boolector").write_text(f'#!/bin/sh\nexec "{tools["boolector"]}" "$@"\n')
    (shim / "boolector").chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.time()
    r = subprocess.run([tools["sby"], "-f", "--yosys", tools["yosys"], "--smtbmc", tools["yosys-smtbmc"],
                        "--witness", tools["yosys-witness"], f"{job}.sby"], cwd=out, env=env,
                       capture_output=True, text=True)
    seconds = time.time() - t0
    text = r.stdout + r.stderr
    result = ("PASS" if "DONE (PASS" in text else "FAIL" if "DONE (FAIL" in text
              else "UNKNOWN" if "DONE (UNKNOWN" in text else "ERROR")
    traces = sorted((out / job).rglob("*.vcd")) if (out / job).exists() else []
    rec = dict(block=name, mutant=mutant, engine="smtbmc boolector",
               depth="unbounded" if mode == "prove" and result == "PASS" else depth, mode=mode, result=result,
               seconds=round(seconds, 1), trace=str(traces[0]) if traces and result == "FAIL" else None,
               log=str(out / job / "logfile.txt"))
    if result == "ERROR" and log is not None:
        log("\n".join(text.splitlines()[-8:]))
    return rec
