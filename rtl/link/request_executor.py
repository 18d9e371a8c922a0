"""Request executor of the host link: what INFO, LOAD and INFER requests do (docs/uart_protocol.md)."""
from __future__ import annotations

from amaranth import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto

from .frame_receiver import FrameSignature
from .reply_writer import ReplyFields
from .weight_loader import WeightLoader

__all__ = ["RequestExecutor"]


class RequestExecutor(wiring.Component):
    """Request executor of the host link: what INFO, LOAD and INFER requests do (docs/uart_protocol.md).

    It reads a request's payload bytes as the frame receiver (rtl/link/frame_receiver.py) takes them: an
    INFER's flags, T, seed and N input codes (into an input buffer, range-checked); a LOAD's bytes go
    to its :class:`~ipvae.rtl.link.weight_loader.WeightLoader` (range-checked before the first write,
    then written one word per P weights).
    After the checksum it decides: an ERROR reply, INFO or LOAD replies, or an inference: the codes go
    to the core, and its result to the reply writer (rtl/link/reply_writer.py).

    Members
    -------
    frame : In(FrameSignature)                 from the frame receiver
    x : Out(stream.Signature(signed(input_bits)))   input codes to the core (N per inference)
    load : Out(stream.Signature(core.load_layout))   weight words to the core (``weights="ram"`` only)
    iterations : Out(16); seed : Out(32)       the INFER's T and seed, for the core
    result_valid : In(1); cycles : In(32)      the core's first output beat is ready; its cycle count
    core_busy : In(1)                          the core has an inference (until its last output beat is taken)
    with_u : Out(1)                            the inference in the core sends u with its counts
    reply_start : Out(1); reply_kind : Out(8); reply_fields : Out(ReplyFields)
    reply_busy : In(1); reply_done : In(1)     the reply writer
    loaded : Out(1); busy : Out(1); error : Out(1)   as the host link's

    Requests are checked whole before they act: an INFER's codes reach the core only after the
    checksum, the length, T and the code range passed; a LOAD's matrix and word range are checked
    before its first word is written; its checksum (and a length that ends inside a word) only at the
    end, so a LOAD that fails those after writing leaves that matrix "not loaded" (INFER answers
    NOT_LOADED) until good LOADs cover the words again.

    INFER is pipelined (docs/uart_protocol.md, Pipelining): once an INFER's codes are in the core the
    frame receiver is let go, so the next request arrives while the core computes. The next INFER is fed
    as soon as the core has handed its output on (to the result buffer, rtl/link/result_buffer.py, for a
    counts-only RESULT: the reply then drains while the core computes again); any other reply waits
    until the RESULT before it is out, and a RESULT waits for the one before it (replies in request
    order). A LOAD that arrives during an inference is refused with BUSY before it writes anything.

    Timing (cycles, after the checksum byte): one to decide; an INFER then waits for the core to be
    free (the previous RESULT out) and feeds its N codes in N + 2 cycles (``timing.FEED_OVERHEAD``: the
    wait state and the first buffer read; then one code per cycle, the next address read as a code is
    taken).

    Parameters
    ----------
    core : IpvaeCore
        The core it drives (N, K/P, widths, weight placement).
    """
    def __init__(self, core):
        """core: the IpvaeCore the requests run on (its sizes, formats, weight placement, max T)."""
        self.core, self.fixed, self.lanes, self.slots = core, core.fixed, core.lanes, core.slots
        self.max_iterations, self.ram = core.max_iterations, core.weights == "ram"
        members = {
            "frame": In(FrameSignature),
            "x": Out(stream.Signature(signed(core.fixed.fmt.input_bits))),
            "iterations": Out(16), "seed": Out(32),
            "result_valid": In(1), "cycles": In(32), "core_busy": In(1), "with_u": Out(1),
            "reply_start": Out(1), "reply_kind": Out(8), "reply_fields": Out(ReplyFields),
            "reply_busy": In(1), "reply_done": In(1),
            "loaded": Out(1), "busy": Out(1), "error": Out(1),
        }
        if self.ram:
            members["load"] = Out(stream.Signature(core.load_layout))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        f = self.frame
        fx, fmt, S = self.fixed, self.fixed.fmt, self.slots
        N, K = fx.n_inputs, fx.n_latents
        ram = self.ram
        depth = [S * N, K * S]                  # words of F and W (rtl/core/loadable_ram.py)

        m.submodules.x_buf = x_buf = memory.Memory(shape=unsigned(8), depth=N, init=[])
        x_wr, x_rd = x_buf.write_port(), x_buf.read_port()

        err = Signal(4)
        running = Signal()                      # an inference is in the core (fed, output not yet all taken)
        xi = Signal(range(N + 1))               # next input code's index in x_buf
        t_bad = Signal()                        # T above max_iterations (registered compare)
        flags = Signal(8)
        t_req = Signal(16)
        seed = Signal(32)
        if ram:
            m.submodules.loader = loader = WeightLoader(self.core)
            wiring.connect(m, loader.o, wiring.flipped(self.load))
            matrix, addr0, addr, words, wrote = loader.matrix, loader.addr0, loader.addr, loader.words, loader.wrote
        else:                                   # no LOAD is accepted: its reply fields are never sent
            matrix, addr0, addr, words, wrote = Const(0, 8), Const(0, 16), Const(0, 16), Const(0, 16), Const(0, 1)
        valid_upto = [Signal(16, name="f_valid_upto", init=0 if ram else depth[0]),
                      Signal(16, name="w_valid_upto", init=0 if ram else depth[1])]
        # registered: F and W valid up to their last words (the 16-bit compares stay off the
        # reply's byte and CRC path; valid_upto settles in DECIDE, replies start two cycles later)
        full = [Signal(init=int(not ram), name="f_loaded"), Signal(init=int(not ram), name="w_loaded")]
        m.d.sync += [full[i].eq(valid_upto[i] == depth[i]) for i in range(2)]
        loaded = full[0] & full[1]
        m.d.comb += self.loaded.eq(loaded)
        byte = f.byte

        def set_err(code):
            """Record the first error of this request."""
            with m.If(err == 0):
                m.d.sync += err.eq(code)

        with_u = Signal()
        t_run = Signal(16)
        rf = self.reply_fields
        m.d.comb += [rf.err.eq(err), rf.request.eq(f.kind),
                     rf.f_loaded.eq(full[0]), rf.w_loaded.eq(full[1]),
                     rf.matrix.eq(matrix), rf.addr0.eq(addr0), rf.words.eq(words),
                     rf.t_run.eq(t_run), rf.with_u.eq(with_u),
                     # the core's count holds until its next inference takes its last code, and
                     # that waits until this RESULT is out: no copy needed
                     rf.cycles.eq(self.cycles)]

        m.d.comb += [self.iterations.eq(t_req), self.seed.eq(seed)]
        m.d.sync += t_bad.eq(t_req > self.max_iterations)
        n_feed = Signal(range(N + 1))
        m.d.comb += [x_rd.addr.eq(n_feed), self.x.payload.eq(x_rd.data.as_signed())]   # FEED reads ahead

        def input_ok(b):
            # the code must fit input_bits as a signed value: bits input_bits-1 .. 7 all equal
            ib = fmt.input_bits
            top = b[ib - 1:]
            return (top == 0) | (top == (1 << (9 - ib)) - 1)

        if ram:
            m.d.comb += [loader.begin.eq(f.begin), loader.length.eq(f.length), loader.last.eq(f.last),
                         loader.running.eq(running), loader.ok.eq(err == 0), f.hold.eq(loader.hold),
                         loader.i.payload.byte.eq(byte), loader.i.payload.count.eq(f.count),
                         loader.i.valid.eq(f.take & f.is_load)]

        # ------------------------------------------------------------ while the frame arrives
        with m.If(f.start):
            m.d.sync += err.eq(0)
        with m.If(f.err_valid):
            set_err(f.err)
        with m.If(f.begin):
            m.d.sync += xi.eq(0)
        with m.If(f.take):
            with m.Switch(f.kind):
                with m.Case(proto.INFER):
                    with m.Switch(f.count):
                        with m.Case(0):
                            m.d.sync += flags.eq(byte)
                        for i in range(2):
                            with m.Case(1 + i):
                                m.d.sync += t_req[8 * i:8 * i + 8].eq(byte)
                        for i in range(4):
                            with m.Case(3 + i):
                                m.d.sync += seed[8 * i:8 * i + 8].eq(byte)
                        with m.Default():
                            with m.If(xi != N):
                                m.d.comb += [x_wr.addr.eq(xi), x_wr.data.eq(byte), x_wr.en.eq(1)]
                                m.d.sync += xi.eq(xi + 1)
                            with m.If(~input_ok(byte)):
                                set_err(proto.ERROR_CODES["BAD_INPUT"])
        if ram:
            with m.If(loader.err_valid):
                set_err(loader.err)
            with m.If(loader.invalidate):       # words written here are no longer the ones a past LOAD validated
                vu = Array(valid_upto)[matrix[0]]
                m.d.sync += vu.eq(Mux(vu < addr0, vu, addr0))

        # ------------------------------------------------------------ the request side
        # INFER is pipelined: once its codes are in the core, the receiver takes the next request
        # while the core computes; that request's reply (or its feeding, for an INFER) waits until
        # the running inference's RESULT is out, so replies leave in request order
        reply_kind = Signal(8)                  # the reply the request side waits to start
        with m.FSM() as fsm:
            with m.State("IDLE"):               # the frame receiver is at work
                with m.If(f.abort):
                    m.d.sync += [err.eq(f.abort_code), reply_kind.eq(proto.ERROR)]
                    m.d.comb += self.error.eq(1)
                    if ram:
                        with m.If(f.in_payload & f.is_load & wrote):
                            vu = Array(valid_upto)[matrix[0]]
                            m.d.sync += vu.eq(Mux(vu < addr0, vu, addr0))
                    m.next = "REPLY_WAIT"
                with m.Elif(f.done):
                    m.next = "DECIDE"
            with m.State("DECIDE"):             # the request's verdict, from registered checks
                # the error code (to err) and the next step (reply type, state) are separate,
                # shallow decisions on registered flags
                code = Signal(4)
                m.d.comb += code.eq(err)
                with m.If(~f.crc_ok):
                    m.d.comb += code.eq(proto.ERROR_CODES["BAD_CHECKSUM"])
                with m.Elif((err == 0) & f.is_infer):
                    with m.If(t_bad):
                        m.d.comb += code.eq(proto.ERROR_CODES["BAD_ITERATIONS"])
                    with m.Elif(~loaded):
                        m.d.comb += code.eq(proto.ERROR_CODES["NOT_LOADED"])
                m.d.sync += err.eq(code)
                fail = ~f.crc_ok | (err != 0) | (f.is_infer & (t_bad | ~loaded))
                if ram:
                    vu = Array(valid_upto)[matrix[0]]
                    with m.If(f.is_load & wrote):
                        with m.If(~fail):
                            with m.If(addr0 <= vu):
                                m.d.sync += vu.eq(Mux(addr > vu, addr, vu))
                        with m.Else():
                            m.d.sync += vu.eq(Mux(vu < addr0, vu, addr0))
                with m.If(fail):
                    m.d.comb += self.error.eq(1)
                    m.d.sync += reply_kind.eq(proto.ERROR)
                    m.next = "REPLY_WAIT"
                with m.Elif(f.is_info):
                    m.d.sync += reply_kind.eq(proto.INFO_REPLY)
                    m.next = "REPLY_WAIT"
                with m.Elif(f.is_load):
                    m.d.sync += reply_kind.eq(proto.LOAD_REPLY)
                    m.next = "REPLY_WAIT"
                with m.Else():
                    m.next = "CORE_WAIT"
            with m.State("REPLY_WAIT"):         # the running inference's RESULT goes first
                with m.If(~running & ~self.reply_busy):
                    m.d.comb += [self.reply_start.eq(1), self.reply_kind.eq(reply_kind)]
                    m.next = "REPLY"
            with m.State("REPLY"):
                with m.If(self.reply_done):
                    m.d.comb += f.resume.eq(1)
                    m.next = "IDLE"
            # --------------------------------------------------------- feeding an inference
            with m.State("CORE_WAIT"):          # the core has handed the previous output on
                with m.If(~running):
                    m.d.sync += [n_feed.eq(0), with_u.eq(flags[0]), t_run.eq(t_req)]
                    m.next = "FEED_FIRST"
            with m.State("FEED_FIRST"):         # x_buf read of the first code: data next cycle
                m.d.comb += self.busy.eq(1)
                m.next = "FEED"
            with m.State("FEED"):               # one code per cycle: the next address is read as a code is taken
                m.d.comb += [self.busy.eq(1), self.x.valid.eq(1)]
                with m.If(self.x.ready):
                    m.d.comb += x_rd.addr.eq(n_feed + 1)
                    m.d.sync += n_feed.eq(n_feed + 1)
                    with m.If(n_feed == N - 1):
                        # the core has T and the seed (taken with the last code): the next request may come
                        m.d.sync += running.eq(1)
                        m.d.comb += f.resume.eq(1)
                        m.next = "IDLE"

        # ------------------------------------------------------------ the inference side
        with m.If(running | self.reply_busy):
            m.d.comb += self.busy.eq(1)
        m.d.comb += self.with_u.eq(with_u)
        with m.FSM():
            with m.State("RUN"):
                # the output is ready (or, buffered whole, already taken) and the RESULT before is out
                with m.If(running & (self.result_valid | ~self.core_busy) & ~self.reply_busy):
                    m.d.comb += [self.reply_start.eq(1), self.reply_kind.eq(proto.RESULT)]
                    m.next = "RESULT"
            with m.State("RESULT"):
                with m.If(~self.core_busy):     # every output beat taken: the core is free
                    m.d.sync += running.eq(0)
                    m.next = "RUN"
        # what the formal harness (sim/formal.py) reads; nothing here adds logic
        # (kept last: the lines above, and so the netlist's source attributes, are as before)
        self.observe = dict(reply_kind=reply_kind, err=err,
                            **{name.lower(): fsm.ongoing(name) for name in
                               ("IDLE", "DECIDE", "REPLY_WAIT", "REPLY", "CORE_WAIT", "FEED_FIRST", "FEED")})
        return m
