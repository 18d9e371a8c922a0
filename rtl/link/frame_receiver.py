"""Frame receiver of the host link: request bytes in, the frame's structure out (docs/uart_protocol.md)."""
from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto

from .reply_writer import crc8_step

__all__ = ["FrameReceiver", "FrameSignature"]

FrameSignature = wiring.Signature({
    "kind": Out(8), "is_info": Out(1), "is_load": Out(1), "is_infer": Out(1),
    "length": Out(16), "last": Out(16),
    "start": Out(1), "begin": Out(1),
    "take": Out(1), "byte": Out(8), "count": Out(16),
    "done": Out(1), "crc_ok": Out(1),
    "abort": Out(1), "abort_code": Out(4), "in_payload": Out(1),
    "err": Out(4), "err_valid": Out(1),
    "hold": In(1), "resume": In(1),
})


class FrameReceiver(wiring.Component):
    """Frame receiver of the host link: request bytes in, the frame's structure out (docs/uart_protocol.md).

    It hunts for the request magic, takes the type and the length, checks the length against the type,
    hands every payload byte to the request executor as it arrives, takes the checksum, and gives up
    on a frame that stops for ``timeout_cycles``. What the payload means is the executor's business
    (rtl/link/request_executor.py); the reply is the reply writer's (rtl/link/reply_writer.py).

    Members
    -------
    rx : In(stream.Signature(unsigned(8)))     request bytes (from a UART receiver)
    frame : Out(FrameSignature)                to the request executor:

        ``kind``, ``is_info``/``is_load``/``is_infer``, ``length``, ``last`` (length - 1): the header;
        ``start``: a magic byte was taken (a new request: clear its error);
        ``begin``: the length is in, payload bytes follow;
        ``take``, ``byte``, ``count``: payload byte ``count`` is taken this cycle;
        ``done``: the checksum byte is taken (``crc_ok`` holds the verdict from the next cycle);
        ``abort`` with ``abort_code`` (BAD_MAGIC or TIMEOUT) and ``in_payload``: the frame is given up;
        ``err``/``err_valid``: a header error (BAD_TYPE, READ_ONLY, BAD_LENGTH) for the request;
        ``hold`` (in): take no byte this cycle (the executor's LOAD range check);
        ``resume`` (in): the executor is done with this frame (its reply is out, or an INFER's codes
        are in the core): hunt for the next frame.

    Timing: one byte per cycle while ``hold`` is low; the header's length check takes one cycle after
    the second length byte (no byte is taken then). Between ``done`` (or ``abort``) and ``resume``
    no byte is taken.

    Parameters
    ----------
    n_inputs : int
        N, input codes of an INFER frame.
    ram : bool
        LOAD frames are accepted (the core's weights are loaded at run time).
    timeout_cycles : int
        Cycles without a byte after which a partial frame is dropped.
    """
    def __init__(self, *, n_inputs: int, ram: bool, timeout_cycles: int):
        """n_inputs: N (an INFER's length is 7 + N); ram: LOADs are accepted (else READ_ONLY)."""
        self.n_inputs, self.ram, self.timeout_cycles = n_inputs, ram, timeout_cycles
        super().__init__({"rx": In(stream.Signature(unsigned(8))), "frame": Out(FrameSignature)})

    def elaborate(self, platform):
        m = Module()
        f, N = self.frame, self.n_inputs
        kind = Signal(8)
        length = Signal(16)
        count = Signal(16)
        last = Signal(16)                       # length - 1, registered with the length
        crc = Signal(8)
        crc_ok = Signal()
        quiet = Signal()                        # a BAD_MAGIC was reported: skip to the next magic
        is_info, is_load, is_infer = Signal(name="is_info"), Signal(name="is_load"), Signal(name="is_infer")
        timer = Signal(range(self.timeout_cycles + 1))
        take = Signal()
        byte = self.rx.payload
        m.d.comb += [f.kind.eq(kind), f.length.eq(length), f.last.eq(last), f.count.eq(count), f.byte.eq(byte),
                     f.crc_ok.eq(crc_ok), f.is_info.eq(is_info), f.is_load.eq(is_load), f.is_infer.eq(is_infer)]

        def header_err(code):
            m.d.comb += [f.err.eq(code), f.err_valid.eq(1)]

        with m.FSM() as fsm:
            with m.State("HUNT"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    with m.If(byte == proto.MAGIC_REQUEST):
                        m.d.sync += [quiet.eq(0), crc.eq(0), timer.eq(0), kind.eq(0),
                                     is_info.eq(0), is_load.eq(0), is_infer.eq(0)]
                        m.d.comb += f.start.eq(1)
                        m.next = "TYPE"
                    with m.Elif(~quiet):
                        m.d.sync += [quiet.eq(1), kind.eq(0)]
                        m.d.comb += [f.abort.eq(1), f.abort_code.eq(proto.ERROR_CODES["BAD_MAGIC"])]
                        m.next = "WAIT"
            for state, nxt in (("TYPE", "LEN0"), ("LEN0", "LEN1"), ("LEN1", "HEADER"), ("PAYLOAD", None),
                               ("CRC", "WAIT")):
                with m.State(state):
                    m.d.comb += [self.rx.ready.eq(~f.hold), take.eq(self.rx.valid & ~f.hold)]
                    m.d.sync += timer.eq(timer + 1)
                    with m.If(take):
                        m.d.sync += [timer.eq(0), crc.eq(crc8_step(crc, byte))]
                    with m.Elif(timer == self.timeout_cycles - 1):
                        m.d.comb += [f.abort.eq(1), f.abort_code.eq(proto.ERROR_CODES["TIMEOUT"]),
                                     f.in_payload.eq(state == "PAYLOAD")]
                        m.next = "WAIT"
                    if state == "TYPE":
                        with m.If(take):
                            m.d.sync += [kind.eq(byte), is_info.eq(byte == proto.INFO), is_load.eq(byte == proto.LOAD),
                                         is_infer.eq(byte == proto.INFER)]
                            with m.If((byte != proto.INFO) & (byte != proto.LOAD) & (byte != proto.INFER)):
                                header_err(proto.ERROR_CODES["BAD_TYPE"])
                            with m.If((byte == proto.LOAD) & (not self.ram)):
                                header_err(proto.ERROR_CODES["READ_ONLY"])
                            m.next = nxt
                    elif state == "LEN0":
                        with m.If(take):
                            m.d.sync += length[:8].eq(byte)
                            m.next = nxt
                    elif state == "LEN1":
                        with m.If(take):
                            m.d.sync += [length[8:].eq(byte), count.eq(0)]
                            m.d.comb += f.begin.eq(1)
                            m.next = nxt
                    elif state == "PAYLOAD":
                        m.d.comb += f.take.eq(take)
                        with m.If(take):
                            m.d.sync += count.eq(count + 1)
                            with m.If(count == last):
                                m.next = "CRC"
                    else:   # CRC
                        with m.If(take):
                            m.d.sync += crc_ok.eq(byte == crc)
                            m.d.comb += f.done.eq(1)
                            m.next = nxt
            with m.State("HEADER"):             # the length checks, from registers, take a cycle
                m.d.sync += last.eq(length - 1)
                with m.Switch(kind):
                    with m.Case(proto.INFO):
                        with m.If(length != 0):
                            header_err(proto.ERROR_CODES["BAD_LENGTH"])
                    with m.Case(proto.INFER):
                        with m.If(length != proto.INFER_HEADER + N):
                            header_err(proto.ERROR_CODES["BAD_LENGTH"])
                    with m.Case(proto.LOAD):
                        with m.If(length < proto.LOAD_HEADER):
                            header_err(proto.ERROR_CODES["BAD_LENGTH"])
                with m.If(length == 0):
                    m.next = "CRC"
                with m.Else():
                    m.next = "PAYLOAD"
            with m.State("WAIT"):               # the request is being answered
                with m.If(f.resume):
                    m.next = "HUNT"
        # what the formal harness (sim/formal.py) reads; nothing here adds logic
        self.observe = dict(timer=timer, crc=crc, crc_ok=crc_ok,
                            **{name.lower(): fsm.ongoing(name) for name in ("HUNT", "TYPE", "HEADER", "WAIT")})
        return m
