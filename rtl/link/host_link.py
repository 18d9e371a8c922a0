"""Host link: the UART protocol of docs/uart_protocol.md in front of an :class:`IpvaeCore` (given to it)."""

from amaranth import Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.core.array_core import ArrayCore
from ipvae.rtl.core.ipvae_core import IpvaeCore

from .frame_receiver import FrameReceiver
from .reply_writer import ReplyWriter
from .request_executor import RequestExecutor
from .result_buffer import ResultBuffer
from .skid_buffer import SkidBuffer

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """Host link: the UART protocol of docs/uart_protocol.md in front of an :class:`IpvaeCore` (given to it).

    Members
    -------
    rx : In(stream.Signature(unsigned(8)))      request bytes (from a UART receiver)
    tx : Out(stream.Signature(unsigned(8)))     reply bytes (to a UART transmitter)
    loaded : Out(1)     F and W are valid (always on a ROM build)
    busy : Out(1)       an inference is running or its reply is being sent
    error : Out(1)      pulse: an ERROR reply was started

    Requests are checked whole before they act: an INFER's N input codes go to a buffer and reach
    the core only after the checksum, the length, T and the code range passed; a LOAD's matrix and
    word range are checked before its first word is written; its checksum (and a length that ends
    inside a word) only at the end, so a LOAD that fails those after writing leaves that matrix
    "not loaded" (INFER answers NOT_LOADED) until good LOADs cover the words again. Every malformed
    request gets an ERROR reply
    (code and offending type), and a request cut short ends in a TIMEOUT error after
    ``timeout_cycles`` without a byte: nothing can wedge the link. INFER is pipelined: the next
    request is taken while the core computes, and replies leave in request order; bytes that arrive
    while the link is busy otherwise are dropped.

    Four parts, each a component of its own: :class:`rtl.frame_receiver.FrameReceiver` (magic, type,
    length, payload bytes, checksum, timeout), :class:`rtl.request_executor.RequestExecutor` (what
    INFO, LOAD and INFER do: checks, the input buffer, LOAD writes, feeding the core, the verdict),
    :class:`rtl.result_buffer.ResultBuffer` (a counts-only RESULT's beats, so the core is free while
    the reply drains) and :class:`rtl.reply_writer.ReplyWriter` (reply frames, the RESULT body); with
    ``reply_slice``, a :class:`rtl.skid_buffer.SkidBuffer` between the last two.

    Timing (cycles, after the request's checksum byte): an INFER feeds its N codes in N + 2 cycles
    once the core is free, then the core runs ``IpvaeCore.cycles_for`` + 2 cycles to its first output
    beat; the reply leaves at the UART's pace, one byte per ``tx.ready``. Through a UART, the pace of a
    stream of pipelined requests is ``rtl.cycle_model.link_cycles``.

    Parameters
    ----------
    core : IpvaeCore
        The core behind the link.
    clock_hz : int
        The core clock (for INFO and the timeout).
    timeout_cycles : int
        Frame timeout (FrameReceiver).
    reply_slice : bool
        A skid buffer in front of the reply writer and its bytes chosen a cycle ahead (the ECP5's
        registered reply path).
    """
    rx: In(stream.Signature(unsigned(8)))
    tx: Out(stream.Signature(unsigned(8)))
    loaded: Out(1)
    busy: Out(1)
    error: Out(1)

    def __init__(self, core: IpvaeCore, *, clock_hz: int, timeout_cycles: int, reply_slice: bool = False):
        """core: the inference core the link drives (it becomes the link's submodule).
        reply_slice: the reply path registered: a :class:`rtl.skid_buffer.SkidBuffer` between the
        result buffer and the reply writer, so the writer's ``ready`` reaches the core's output read
        enables through registers only, and the writer's body bytes chosen a cycle ahead
        (``ReplyWriter(registered=True)``). One payload register and a byte register more; through a
        UART no byte leaves later."""
        if not isinstance(core, (IpvaeCore, ArrayCore)):
            raise ParameterError(f"HostLink drives an IpvaeCore, got {type(core).__name__}")
        fixed, lanes, max_iterations, weights = core.fixed, core.lanes, core.max_iterations, core.weights
        fmt = fixed.fmt
        for what, bits, most in (("input_bits", fmt.input_bits, 8), ("weight_bits", fmt.weight_bits, 16),
                                 ("count_bits", fmt.count_bits, 8), ("u_bits", fmt.u_bits, 16)):
            if bits > most:
                raise ParameterError(f"the UART link carries {what} up to {most}, the model has {bits}")
        if max_iterations >= 2 ** 16:
            raise ParameterError(f"the UART link carries T in 16 bits: max_iterations must be < 65536, "
                                 f"got {max_iterations}")
        longest_reply = proto.result_length(fixed.n_latents, True, fmt.count_bits)
        if fixed.n_inputs >= 2 ** 16 - proto.INFER_HEADER or longest_reply >= 2 ** 16:
            raise ParameterError("N and K too large for 16-bit frame lengths")
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ParameterError(f"timeout_cycles must be an integer >= 16, got {timeout_cycles!r}")
        self.core = core
        self.fixed, self.lanes, self.weights = fixed, lanes, weights
        self.clock_hz, self.timeout_cycles, self.reply_slice = int(clock_hz), timeout_cycles, bool(reply_slice)
        self.fingerprint = proto.model_fingerprint(fixed)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        ram = self.weights == "ram"
        m.submodules.receiver = rcv = FrameReceiver(n_inputs=self.fixed.n_inputs, ram=ram,
                                                    timeout_cycles=self.timeout_cycles)
        m.submodules.executor = exe = RequestExecutor(core)
        m.submodules.reply = writer = ReplyWriter(core, ram=ram, fingerprint=self.fingerprint, clock_hz=self.clock_hz,
                                                  registered=self.reply_slice)

        wiring.connect(m, wiring.flipped(self.rx), rcv.rx)
        wiring.connect(m, rcv.frame, exe.frame)
        wiring.connect(m, exe.x, core.i)
        if ram:
            wiring.connect(m, exe.load, core.load)
        m.d.comb += [core.iterations.eq(exe.iterations), core.seed.eq(exe.seed),
                     exe.result_valid.eq(core.o.valid), exe.cycles.eq(core.cycles), exe.core_busy.eq(core.busy)]
        m.submodules.results = results = ResultBuffer(core)
        wiring.connect(m, core.o, results.i)
        if self.reply_slice:
            m.submodules.reply_slice = slice_ = SkidBuffer(results.o.payload.shape())
            wiring.connect(m, results.o, slice_.i)
            wiring.connect(m, slice_.o, writer.beats)
        else:
            wiring.connect(m, results.o, writer.beats)
        m.d.comb += [results.i_with_u.eq(exe.with_u), results.o_with_u.eq(writer.with_u)]
        wiring.connect(m, writer.tx, wiring.flipped(self.tx))
        m.d.comb += [writer.start.eq(exe.reply_start), writer.kind.eq(exe.reply_kind),
                     writer.fields.eq(exe.reply_fields), exe.reply_busy.eq(writer.busy), exe.reply_done.eq(writer.done)]
        m.d.comb += [self.loaded.eq(exe.loaded), self.busy.eq(exe.busy), self.error.eq(exe.error)]
        return m
