"""The inference core behind AXI4-Stream-style streams: input codes in, output beats out, with the
``tlast`` framing and the ``tuser`` side channel that a DMA, a camera pipeline or an SoC uses."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.core.array_core import ArrayCore
from ipvae.rtl.core.ipvae_core import IpvaeCore

__all__ = ["AxiStreamCore", "USER_BITS", "pack_user"]

#: tuser of an input beat: T (16 bits) then the seed (32 bits)
USER_BITS = 48


def pack_user(iterations: int, seed: int) -> int:
    """The tuser value of a frame's first beat."""
    if not 0 <= iterations < 1 << 16 or not 0 <= seed < 1 << 32:
        raise ParameterError(f"tuser carries T in 0..65535 and a 32-bit seed, got T={iterations}, seed={seed}")
    return iterations | seed << 16


class AxiStreamCore(wiring.Component):
    """The inference core behind AXI4-Stream-style streams: input codes in, output beats out, with the
    ``tlast`` framing and the ``tuser`` side channel that a DMA, a camera pipeline or an SoC uses.

    Members
    -------
    i : In(stream.Signature(InputBeat))       AXI4-Stream slave: ``data`` (tdata, one input code in the
        low input_bits, two's complement), ``last`` (tlast, on the N-th code of a patch), ``user``
        (tuser, 48 bits: T in bits 0-15 and the sampler seed in bits 16-47, read on a frame's first beat)
    o : Out(stream.Signature(OutputBeat))     AXI4-Stream master: ``data`` (tdata: z of P neurons in the
        low P count_bits, their final u above, as the core's output beat), ``last`` (tlast, on the K/P-th
        beat of a result), ``user`` (tuser, 1 bit: the input frame was malformed, see below)
    w : In(stream.Signature(WeightBeat))      (only with ``weights="ram"``) run-time weight loading: one
        word per beat, the core's load layout (bit 0 the matrix: 0 F, 1 W; then the word address; then P
        weights), zero-padded to whole bytes; words as ``ipvae.golden_model.layout.weight_words`` orders
        them. Taken only between inferences.
    cycles : Out(32)        the core's compute cycles of the last inference (rtl/core/cycle_model.py)
    frame_errors : Out(16)  malformed input frames seen (wraps)

    Transfer rules (valid/ready as AXI4-Stream's tvalid/tready; a beat moves when both are high):

    - A frame is N beats; the first beat's ``user`` sets T (clamped to the core's max_iterations, as
      the core does) and the seed.
    - ``last`` early (on beat k < N): the frame is completed with zero codes, the core runs on it, and
      its result leaves with ``user`` = 1. ``last`` missing on beat N: the core runs on the N beats, the
      result leaves with ``user`` = 1, and the beats that follow are dropped up to and including the
      next ``last``. Either way ``frame_errors`` counts the frame and the next frame is aligned again.
    - Back-to-back frames: the next frame's beats are taken as soon as the core takes inputs again
      (after the previous result's last beat); back-pressure on ``o`` holds the core.

    Timing: no cycles are added on either stream: input beats go to the core in the cycle they are
    taken, output beats leave in the cycle the core offers them. The core's own count (``cycles``) is
    the cycle model's.

    Parameters
    ----------
    core : IpvaeCore
        The core to wrap.
    """
    def __init__(self, core: IpvaeCore):
        """core: the IpvaeCore behind the streams (it becomes this component's submodule)."""
        if not isinstance(core, (IpvaeCore, ArrayCore)):
            raise ParameterError(f"AxiStreamCore wraps an IpvaeCore, got {type(core).__name__}")
        if core.fixed.fmt.input_bits > 8:
            raise ParameterError(f"tdata carries one 8-bit code per beat; the model has "
                                 f"{core.fixed.fmt.input_bits}-bit inputs")
        self.core = core
        out_width = len(core.o.payload.as_value())
        self.input_beat = data.StructLayout({"data": unsigned(8), "last": unsigned(1), "user": unsigned(USER_BITS)})
        self.output_beat = data.StructLayout({"data": unsigned(out_width), "last": unsigned(1), "user": unsigned(1)})
        members = {
            "i": In(stream.Signature(self.input_beat)),
            "o": Out(stream.Signature(self.output_beat)),
            "cycles": Out(32),
            "frame_errors": Out(16),
        }
        if core.weights == "ram":
            # one weight word per beat, the core's load layout (matrix, address, P weights), padded to bytes
            self.load_bits = len(core.load.payload.as_value())
            members["w"] = In(stream.Signature(data.StructLayout({"data": unsigned(-(-self.load_bits // 8) * 8)})))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        N, S = core.fixed.n_inputs, core.slots
        ib = core.fixed.fmt.input_bits
        m.d.comb += self.cycles.eq(core.cycles)
        if core.weights == "ram":
            m.d.comb += [core.load.valid.eq(self.w.valid), core.load.payload.eq(self.w.payload.data[:self.load_bits]),
                         self.w.ready.eq(core.load.ready)]

        n = Signal(range(N + 1))                 # beats of this frame given to the core
        iterations, seed = Signal(16), Signal(32)
        result_bad = Signal()                    # the result being sent comes from a malformed frame
        m.d.comb += [core.iterations.eq(Mux(n == 0, self.i.payload.user[:16], iterations)),
                     core.seed.eq(Mux(n == 0, self.i.payload.user[16:48], seed))]

        def frame_done(malformed):
            m.d.sync += [n.eq(0), result_bad.eq(malformed)]
            with m.If(malformed):
                m.d.sync += self.frame_errors.eq(self.frame_errors + 1)

        with m.FSM():
            with m.State("IN"):                  # beats straight to the core
                m.d.comb += [core.i.valid.eq(self.i.valid), core.i.payload.eq(self.i.payload.data[:ib]),
                             self.i.ready.eq(core.i.ready)]
                with m.If(self.i.valid & core.i.ready):
                    m.d.sync += n.eq(n + 1)
                    with m.If(n == 0):
                        m.d.sync += [iterations.eq(self.i.payload.user[:16]), seed.eq(self.i.payload.user[16:48])]
                    with m.If(n == N - 1):
                        frame_done(~self.i.payload.last)
                        with m.If(~self.i.payload.last):
                            m.next = "DROP"
                    with m.Elif(self.i.payload.last):
                        m.next = "PAD"
            with m.State("PAD"):                 # an early tlast: zero codes up to N
                m.d.comb += [core.i.valid.eq(1), core.i.payload.eq(0)]
                with m.If(core.i.ready):
                    m.d.sync += n.eq(n + 1)
                    with m.If(n == N - 1):
                        frame_done(1)
                        m.next = "IN"
            with m.State("DROP"):                # a missing tlast: drop beats up to the next one
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid & self.i.payload.last):
                    m.next = "IN"

        # results: the core's output beats, tlast on the last slot, tuser = malformed input
        slot = Signal(range(S + 1))
        m.d.comb += [self.o.valid.eq(core.o.valid), self.o.payload.data.eq(core.o.payload.as_value()),
                     self.o.payload.last.eq(slot == S - 1), self.o.payload.user.eq(result_bad),
                     core.o.ready.eq(self.o.ready)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += slot.eq(Mux(slot == S - 1, 0, slot + 1))
        self.observe = dict(n=n, slot=slot)     # for the formal harness (sim/formal.py); adds no logic
        return m
