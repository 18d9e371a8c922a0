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
"not loaded" (INFER answers NOT_LOADED) until good LOADs cover the words again. Every malformed request gets an ERROR reply
(code and offending type), and a request cut short ends in a TIMEOUT error after
``timeout_cycles`` without a byte: nothing can wedge the link. Bytes that arrive while a
reply is being computed or sent are dropped (the protocol is request/response).

The link is two parts: the request side here (frame receiver, checks, input buffer, LOAD writes,
feeding the core) and :class:`rtl.reply_writer.ReplyWriter` (reply frames, the RESULT body from
the core's output beats, the reply checksum).

Timing (cycles, after the request's checksum byte): an INFER feeds its N codes in 2 N cycles,
then the core runs ``IpvaeCore.cycles_for`` + 2 cycles to its first output beat; the reply
leaves at the UART's pace, one byte per ``i.ready``.
"""

from amaranth import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ParameterError

from .core import IpvaeCore
from .reply_writer import ReplyWriter, crc8_step


class HostLink(wiring.Component):
    rx: In(stream.Signature(unsigned(8)))
    tx: Out(stream.Signature(unsigned(8)))
    loaded: Out(1)
    busy: Out(1)
    error: Out(1)

    def __init__(self, core: IpvaeCore, *, clock_hz: int, timeout_cycles: int):
        """core: the inference core the link drives (it becomes the link's submodule)."""
        if not isinstance(core, IpvaeCore):
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
        if fixed.n_inputs >= 2 ** 16 - proto.INFER_HEADER or proto.result_length(fixed.n_latents, True) >= 2 ** 16:
            raise ParameterError("N and K too large for 16-bit frame lengths")
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ParameterError(f"timeout_cycles must be an integer >= 16, got {timeout_cycles!r}")
        self.core = core
        self.fixed, self.lanes, self.weights = fixed, lanes, weights
        self.clock_hz, self.timeout_cycles = int(clock_hz), timeout_cycles
        self.fingerprint = proto.model_fingerprint(fixed)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        fx, fmt, P, S = self.fixed, self.fixed.fmt, self.lanes, self.core.slots
        N, K = fx.n_inputs, fx.n_latents
        ram = self.weights == "ram"
        depth = [S * N, K * S]                  # words of F and W (rtl/weight_store.py)

        m.submodules.x_buf = x_buf = memory.Memory(shape=unsigned(8), depth=N, init=[])
        x_wr, x_rd = x_buf.write_port(), x_buf.read_port()

        # ------------------------------------------------------------ request state
        kind = Signal(8)
        length = Signal(16)
        count = Signal(16)
        last = Signal(16)                       # length - 1, registered with the length
        xi = Signal(range(N + 1))               # next input code's index in x_buf
        range_check = Signal()                  # a LOAD's word range is checked the cycle after its header
        take = Signal()                         # a request byte is taken this cycle
        checking = Signal()                     # the range check runs: hold the next byte
        crc_ok = Signal()
        is_info, is_load, is_infer = Signal(name="is_info"), Signal(name="is_load"), Signal(name="is_infer")
        t_bad = Signal()                        # T above max_iterations (registered compare)
        crc = Signal(8)
        err = Signal(4)
        quiet = Signal()                        # a BAD_MAGIC was reported: skip to the next magic
        flags = Signal(8)
        t_req = Signal(16)
        seed = Signal(32)
        matrix = Signal(8)
        addr0 = Signal(16)                      # first word of a LOAD
        addr = Signal(16)                       # next word to write
        words = Signal(16)
        wbytes = proto.weight_bytes(fmt.weight_bits)
        word_bytes = P * wbytes
        lane = Signal(range(max(word_bytes, 2)))    # byte of the LOAD word being assembled
        word = Signal(word_bytes * 8)
        wrote = Signal()                        # this LOAD wrote something
        valid_upto = [Signal(16, name="f_valid_upto", init=0 if ram else depth[0]),
                      Signal(16, name="w_valid_upto", init=0 if ram else depth[1])]
        loaded = Signal(init=int(not ram))      # registered: F and W valid up to their last words
        m.d.sync += loaded.eq((valid_upto[0] == depth[0]) & (valid_upto[1] == depth[1]))
        m.d.comb += self.loaded.eq(loaded)
        timer = Signal(range(self.timeout_cycles + 1))

        load = None
        if ram:
            # the LOAD word to the core comes from registers: nothing of the byte decoding
            # reaches the weight store's address in the same cycle
            load = stream.Signature(core.load_layout).create()
            m.d.comb += [core.load.valid.eq(load.valid), core.load.payload.eq(load.payload)]
            with m.If(core.load.ready):
                m.d.sync += load.valid.eq(0)
        byte = self.rx.payload
        crc_next = crc8_step(crc, byte)

        def set_err(code):
            """Record the first error of this request."""
            with m.If(err == 0):
                m.d.sync += err.eq(code)

        # ------------------------------------------------------------ replies
        m.submodules.reply = writer = ReplyWriter(core, ram=ram, fingerprint=self.fingerprint, clock_hz=self.clock_hz)
        wiring.connect(m, core.o, writer.beats)
        wiring.connect(m, writer.tx, wiring.flipped(self.tx))
        with_u = Signal()
        cycles = Signal(32)
        t_run = Signal(16)
        m.d.comb += [writer.fields.err.eq(err), writer.fields.request.eq(kind),
                     writer.fields.f_loaded.eq(valid_upto[0] == depth[0]),
                     writer.fields.w_loaded.eq(valid_upto[1] == depth[1]),
                     writer.fields.matrix.eq(matrix), writer.fields.addr0.eq(addr0), writer.fields.words.eq(words),
                     writer.fields.cycles.eq(cycles), writer.fields.t_run.eq(t_run), writer.fields.with_u.eq(with_u)]

        m.d.comb += [core.iterations.eq(t_req), core.seed.eq(seed)]
        m.d.sync += t_bad.eq(t_req > self.core.max_iterations)
        n_feed = Signal(range(N + 1))
        m.d.comb += [x_rd.addr.eq(n_feed), core.i.payload.eq(x_rd.data.as_signed())]

        def start_reply(kind_):
            m.d.comb += [writer.start.eq(1), writer.kind.eq(kind_)]
            m.next = "REPLY"

        def input_ok(b):
            # the code must fit input_bits as a signed value: bits input_bits-1 .. 7 all equal
            ib = fmt.input_bits
            top = b[ib - 1:]
            return (top == 0) | (top == (1 << (9 - ib)) - 1)

        if ram:
            # the whole word range of a LOAD is checked before its first write (the first word
            # needs P more bytes): a refused LOAD changes nothing
            # two cycles: the end of the range into a register, then the compare
            end_bytes = Signal(32)
            range_cmp = Signal()
            m.d.sync += range_cmp.eq(range_check)
            with m.If(range_check):
                m.d.sync += [range_check.eq(0), end_bytes.eq(addr0 * word_bytes + (length - proto.LOAD_HEADER))]
            m.d.comb += checking.eq(range_check | range_cmp)
            with m.If(range_cmp):
                with m.If(end_bytes > Mux(matrix[0], depth[1] * word_bytes, depth[0] * word_bytes)):
                    set_err(proto.ERROR_CODES["BAD_ADDRESS"])

        with m.FSM():
            with m.State("HUNT"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    with m.If(byte == proto.MAGIC_REQUEST):
                        m.d.sync += [quiet.eq(0), crc.eq(0), err.eq(0), timer.eq(0), kind.eq(0),
                                     is_info.eq(0), is_load.eq(0), is_infer.eq(0)]
                        m.next = "TYPE"
                    with m.Elif(~quiet):
                        m.d.sync += [quiet.eq(1), err.eq(proto.ERROR_CODES["BAD_MAGIC"]), kind.eq(0)]
                        m.d.comb += self.error.eq(1)
                        start_reply(proto.ERROR)
            # --------------------------------------------------------- header, payload, checksum
            for state, nxt in (("TYPE", "LEN0"), ("LEN0", "LEN1"), ("LEN1", None), ("PAYLOAD", None), ("CRC", None)):
                with m.State(state):
                    # two cycles without a byte after a LOAD header: its range check lands first
                    m.d.comb += [self.rx.ready.eq(~checking), take.eq(self.rx.valid & ~checking)]
                    m.d.sync += timer.eq(timer + 1)
                    with m.If(take):
                        m.d.sync += [timer.eq(0), crc.eq(crc_next)]
                    with m.Elif(timer == self.timeout_cycles - 1):
                        m.d.sync += err.eq(proto.ERROR_CODES["TIMEOUT"])
                        m.d.comb += self.error.eq(1)
                        if state == "PAYLOAD":
                            with m.If(is_load & wrote):
                                m.d.sync += Array(valid_upto)[matrix[0]].eq(
                                    Mux(Array(valid_upto)[matrix[0]] < addr0, Array(valid_upto)[matrix[0]], addr0))
                        start_reply(proto.ERROR)
                    if state == "TYPE":
                        with m.If(take):
                            m.d.sync += [kind.eq(byte), is_info.eq(byte == proto.INFO), is_load.eq(byte == proto.LOAD),
                                         is_infer.eq(byte == proto.INFER)]
                            with m.If((byte != proto.INFO) & (byte != proto.LOAD) & (byte != proto.INFER)):
                                set_err(proto.ERROR_CODES["BAD_TYPE"])
                            with m.If((byte == proto.LOAD) & (not ram)):
                                set_err(proto.ERROR_CODES["READ_ONLY"])
                            m.next = nxt
                    elif state == "LEN0":
                        with m.If(take):
                            m.d.sync += length[:8].eq(byte)
                            m.next = nxt
                    elif state == "LEN1":
                        with m.If(take):
                            m.d.sync += [length[8:].eq(byte), count.eq(0), wrote.eq(0), lane.eq(0), words.eq(0),
                                         xi.eq(0)]
                            m.next = "HEADER"
                    elif state == "PAYLOAD":
                        with m.If(take):
                            m.d.sync += count.eq(count + 1)
                            with m.If(count == last):
                                m.next = "CRC"
                            with m.Switch(kind):
                                with m.Case(proto.INFER):
                                    with m.Switch(count):
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
                                with m.Case(proto.LOAD):
                                    if ram:
                                        self._load_byte(m, load, byte, count, last, matrix, addr0, addr, words,
                                                        lane, word, wrote, err, valid_upto, depth, set_err, range_check)
                    else:   # CRC
                        with m.If(take):
                            m.d.sync += crc_ok.eq(byte == crc)
                            m.next = "DECIDE"
            with m.State("DECIDE"):             # the request's verdict, from registered checks
                # the error code (to err) and the next step (reply type, state) are separate,
                # shallow decisions on registered flags
                code = Signal(4)
                m.d.comb += code.eq(err)
                with m.If(~crc_ok):
                    m.d.comb += code.eq(proto.ERROR_CODES["BAD_CHECKSUM"])
                with m.Elif((err == 0) & is_infer):
                    with m.If(t_bad):
                        m.d.comb += code.eq(proto.ERROR_CODES["BAD_ITERATIONS"])
                    with m.Elif(~loaded):
                        m.d.comb += code.eq(proto.ERROR_CODES["NOT_LOADED"])
                m.d.sync += err.eq(code)
                fail = ~crc_ok | (err != 0) | (is_infer & (t_bad | ~loaded))
                if ram:
                    vu = Array(valid_upto)[matrix[0]]
                    with m.If(is_load & wrote):
                        with m.If(~fail):
                            with m.If(addr0 <= vu):
                                m.d.sync += vu.eq(Mux(addr > vu, addr, vu))
                        with m.Else():
                            m.d.sync += vu.eq(Mux(vu < addr0, vu, addr0))
                with m.If(fail):
                    m.d.comb += self.error.eq(1)
                    start_reply(proto.ERROR)
                with m.Elif(is_info):
                    start_reply(proto.INFO_REPLY)
                with m.Elif(is_load):
                    start_reply(proto.LOAD_REPLY)
                with m.Else():
                    m.d.sync += [n_feed.eq(0), with_u.eq(flags[0]), t_run.eq(t_req)]
                    m.next = "FEED_ADDR"
            with m.State("HEADER"):             # the length checks, from registers, take a cycle
                m.d.sync += last.eq(length - 1)
                with m.Switch(kind):
                    with m.Case(proto.INFO):
                        with m.If(length != 0):
                            set_err(proto.ERROR_CODES["BAD_LENGTH"])
                    with m.Case(proto.INFER):
                        with m.If(length != proto.INFER_HEADER + N):
                            set_err(proto.ERROR_CODES["BAD_LENGTH"])
                    with m.Case(proto.LOAD):
                        with m.If(length < proto.LOAD_HEADER):
                            set_err(proto.ERROR_CODES["BAD_LENGTH"])
                with m.If(length == 0):
                    m.next = "CRC"
                with m.Else():
                    m.next = "PAYLOAD"
            # --------------------------------------------------------- inference
            with m.State("FEED_ADDR"):          # x_buf read: data next cycle
                m.d.comb += self.busy.eq(1)
                m.next = "FEED"
            with m.State("FEED"):
                m.d.comb += [self.busy.eq(1), core.i.valid.eq(1)]
                with m.If(core.i.ready):
                    m.d.sync += n_feed.eq(n_feed + 1)
                    with m.If(n_feed == N - 1):
                        m.next = "RUN"
                    with m.Else():
                        m.next = "FEED_ADDR"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                with m.If(core.o.valid):
                    m.d.sync += cycles.eq(core.cycles)
                    start_reply(proto.RESULT)
            # --------------------------------------------------------- reply (rtl/reply_writer.py)
            with m.State("REPLY"):
                m.d.comb += self.busy.eq(writer.busy)
                with m.If(writer.done):
                    m.next = "HUNT"
        return m

    def _load_byte(self, m, load, byte, count, last, matrix, addr0, addr, words, lane, word, wrote, err,
                   valid_upto, depth, set_err, range_check):
        P = self.lanes * proto.weight_bytes(self.fixed.fmt.weight_bits)      # bytes per word
        with m.Switch(count):
            with m.Case(0):
                m.d.sync += matrix.eq(byte)
                with m.If(byte > 1):
                    set_err(proto.ERROR_CODES["BAD_ADDRESS"])
            with m.Case(1):
                m.d.sync += addr0[:8].eq(byte)
            with m.Case(2):
                m.d.sync += [addr0[8:].eq(byte), addr.eq(Cat(addr0[:8], byte)), range_check.eq(1)]
            with m.Default():
                m.d.sync += [word.eq(Cat(word[8:], byte)) if P > 1 else word.eq(byte), lane.eq(lane + 1)]
                with m.If(lane == P - 1):
                    m.d.sync += lane.eq(0)
                    end = Mux(matrix[0], depth[1], depth[0])
                    with m.If(addr >= end):
                        set_err(proto.ERROR_CODES["BAD_ADDRESS"])
                    with m.Elif(err == 0):
                        full = Cat(word[8:], byte) if P > 1 else byte
                        # one write per P bytes; the core takes it in the next cycle, long before
                        # the next word's P bytes have arrived
                        m.d.sync += [load.valid.eq(1), load.payload.matrix.eq(matrix[0]), load.payload.addr.eq(addr),
                                     load.payload.data.eq(self._narrow(full))]
                        m.d.sync += [addr.eq(addr + 1), words.eq(words + 1), wrote.eq(1)]
                        vu = Array(valid_upto)[matrix[0]]
                        # words written here are no longer the ones a past LOAD validated
                        m.d.sync += vu.eq(Mux(vu < addr0, vu, addr0))
                with m.If((count == last) & (lane != P - 1)):    # ends inside a word
                    set_err(proto.ERROR_CODES["BAD_LENGTH"])

    def _narrow(self, full):
        """P little-endian groups of weight_bytes bytes (lane p first) to the core's P
        weight_bits-wide fields."""
        wb = self.fixed.fmt.weight_bits
        g = 8 * proto.weight_bytes(wb)
        return Cat(*[full[g * p:g * p + wb] for p in range(self.lanes)])
