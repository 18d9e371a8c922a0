"""Reply writer of the host link: one reply frame of docs/uart_protocol.md as a byte stream."""
from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto

__all__ = ["ReplyWriter", "ReplyFields", "crc8_step"]


def _crc8_masks():
    """The CRC-8 byte step is linear in v = crc ^ byte: output bit i is the parity of v & mask[i]."""
    masks = [0] * 8
    for j in range(8):
        out = proto.crc8(bytes([1 << j]))
        for i in range(8):
            if out >> i & 1:
                masks[i] |= 1 << j
    return masks


_CRC8_MASKS = _crc8_masks()


def crc8_step(crc, byte):
    """One byte of the protocol's CRC-8 (polynomial 0x07) as logic: 8 parity trees."""
    v = crc ^ byte
    return Cat(*[(v & mask).xor() for mask in _CRC8_MASKS])


def _bytes(value, n):
    return [value[8 * i:8 * i + 8] if len(value) > 8 * i else Const(0, 8) for i in range(n)]


ReplyFields = data.StructLayout({
    "err": unsigned(4), "request": unsigned(8),                          # ERROR
    "f_loaded": unsigned(1), "w_loaded": unsigned(1),                    # INFO
    "matrix": unsigned(8), "addr0": unsigned(16), "words": unsigned(16),  # LOAD_REPLY
    "cycles": unsigned(32), "t_run": unsigned(16), "with_u": unsigned(1),  # RESULT
})


class ReplyWriter(wiring.Component):
    """Reply writer of the host link: one reply frame of docs/uart_protocol.md as a byte stream.

    Members
    -------
    start : In(1); kind : In(8)
        Start a reply of type ``kind`` (ERROR, INFO_REPLY, LOAD_REPLY or RESULT); taken only while idle.
    fields : In(ReplyFields)
        What the header carries: the error code and the request type it answers (ERROR), the loaded
        flags (INFO), the LOAD's matrix, first word and word count, the run's cycles and T and whether
        u goes with z (RESULT). A RESULT's three are taken with ``start`` (the core and the executor
        move on to the next inference while the reply drains); the others must hold until ``done``.
    beats : In(stream.Signature(core output layout))
        The core's output beats (K/P of them): a RESULT's body, z (and u) of P neurons per beat.
    tx : Out(stream.Signature(unsigned(8)))
    busy : Out(1)       a RESULT is being sent (the next reply waits for its last byte)
    with_u : Out(1)     the RESULT being sent carries u (as taken with ``start``)
    done : Out(1)       the last byte (the checksum) leaves in this cycle

    Timing: the first header byte is offered the cycle after ``start``; then one byte per cycle that
    ``tx.ready`` is high, plus one cycle per body beat taken from ``beats`` and, with counts packed two
    per byte (``count_bits`` <= 4, no u), one cycle per even-numbered neuron (its nibble is held); with
    ``registered``, every body step takes one cycle more (the byte is chosen into a register, then
    offered). Through a UART (10 or more cycles a byte) the bytes leave at the UART's pace either way.
    The checksum is the CRC-8 of everything after the magic byte (``ipvae.golden_model.protocol.crc8``).

    Parameters
    ----------
    core : IpvaeCore
        The core whose results it sends (sizes the fields).
    ram : bool
        INFO reports run-time loaded weights.
    fingerprint : int
        The model fingerprint INFO reports (golden_model.protocol).
    clock_hz : int
        The core clock INFO reports.
    registered : bool
        Body bytes chosen a cycle ahead (the registered form).
    """
    def __init__(self, core, *, ram: bool, fingerprint: int, clock_hz: int, registered: bool = False):
        """core: the IpvaeCore whose output beats a RESULT carries (its sizes and formats).
        registered: each body byte is chosen into a register a cycle before it is offered (two cycles
        a body step), so the beat's byte select, the CRC and the UART's ready never share a cycle
        (the ULX3S-85F's 64 lanes: a 192-way select; about 12 logic cells more, which the iCE40 lacks);
        and the beat registers load while a flip-flop says so rather than on the stream's handshake
        (their enable net reaches 1,280 flip-flops at 64 lanes: 9.7 ns of routing on the ECP5-85F)."""
        self.registered = bool(registered)
        self.fixed, self.lanes, self.slots = core.fixed, core.lanes, core.slots
        self.max_iterations, self.ram = core.max_iterations, ram
        self.fingerprint, self.clock_hz = fingerprint, clock_hz
        super().__init__({
            "start": In(1), "kind": In(8), "fields": In(ReplyFields),
            "beats": In(stream.Signature(core.output_layout)),
            "tx": Out(stream.Signature(unsigned(8))),
            "busy": Out(1), "done": Out(1), "with_u": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        fx, fmt, P, S = self.fixed, self.fixed.fmt, self.lanes, self.slots
        N, K = fx.n_inputs, fx.n_latents
        f = self.fields

        reply = Signal(8)                       # reply type being sent
        # a RESULT's own fields, taken at its start: the next inference may begin before they are sent
        r_cycles, r_t, with_u = Signal(32), Signal(range(self.max_iterations + 1)), Signal()
        m.d.comb += self.with_u.eq(with_u)
        hidx = Signal(5)
        tcrc = Signal(8)
        slot = Signal(range(S + 1))
        bidx = Signal(range(3 * P + 1))
        beat_z = Signal(P * fmt.count_bits)
        beat_u = Signal(P * fmt.u_bits)

        cb = fmt.count_bits
        packed = proto.packed_counts(cb)       # counts only: two per byte (docs/uart_protocol.md)
        result_len = Mux(with_u, proto.result_length(K, True, cb), proto.result_length(K, False, cb))
        heads = {
            proto.ERROR: [proto.MAGIC_REPLY, proto.ERROR, 2, 0, Cat(f.err, Const(0, 4)), f.request],
            proto.INFO_REPLY: [proto.MAGIC_REPLY, proto.INFO_REPLY, proto.INFO_LENGTH, 0, proto.VERSION,
                               *_bytes(Const(N, 16), 2), *_bytes(Const(K, 16), 2), *_bytes(Const(P, 16), 2),
                               *_bytes(Const(self.max_iterations, 16), 2), fmt.input_bits, fmt.count_bits,
                               fmt.u_bits, fmt.weight_bits, int(self.ram),
                               Cat(f.f_loaded, f.w_loaded, Const(0, 6)),
                               *_bytes(Const(self.fingerprint, 32), 4), *_bytes(Const(self.clock_hz, 32), 4)],
            proto.LOAD_REPLY: [proto.MAGIC_REPLY, proto.LOAD_REPLY, 5, 0, f.matrix, *_bytes(f.addr0, 2),
                               *_bytes(f.words, 2)],
            proto.RESULT: [proto.MAGIC_REPLY, proto.RESULT, *_bytes(result_len, 2), *_bytes(r_cycles, 4),
                           *_bytes(r_t, 2)],
        }
        head_byte = Signal(8)
        head_last = Signal()
        with m.Switch(reply):
            for rk, items in heads.items():
                with m.Case(rk):
                    m.d.comb += [head_byte.eq(Array(Const(v, 8) if isinstance(v, int) else v for v in items)[hidx]),
                                 head_last.eq(hidx == len(items) - 1)]

        # body byte b of a RESULT beat: lane b // r, z (b % r == 0) or u's low/high byte
        record = Mux(with_u, 3, 1)
        body_items = []
        for p in range(P):
            z = beat_z.word_select(p, fmt.count_bits)
            u = beat_u.word_select(p, fmt.u_bits).as_signed()
            u16 = Signal(16, name=f"u16_{p}")
            m.d.comb += u16.eq(u)
            body_items += [(p, 0, z), (p, 1, u16[:8]), (p, 2, u16[8:])]
        body_byte = Signal(8)
        with m.Switch(Cat(with_u, bidx)):
            for p, part, value in body_items:
                if part == 0:
                    with m.Case((p << 1) | 0):          # z only: byte p
                        m.d.comb += body_byte.eq(value)
                with m.Case(((3 * p + part) << 1) | 1):  # with u: byte 3p + part
                    m.d.comb += body_byte.eq(value)
        body_last = bidx == P * record - 1
        byte_r, emit_r, last_r = Signal(8), Signal(), Signal()      # the step chosen in BODY, sent in SEND
        half = Signal()                         # packed counts: a low nibble waits in ``low``
        low = Signal(4)
        zsel = Signal(max(cb, 4))               # lane bidx's count (counts only)
        m.d.comb += zsel.eq(beat_z.word_select(bidx[:max(1, (P - 1).bit_length())], cb) if P > 1 else beat_z)

        if self.registered:
            # the beat registers load in every cycle ``follow`` (a flip-flop) is high, so their
            # 1,280 enables at 64 lanes come from one register, not from the stream's valid: they
            # follow the payload until a beat is taken and hold it until its last step leaves
            follow = Signal(init=1)
            with m.If(follow):
                m.d.sync += [beat_z.eq(self.beats.payload.z), beat_u.eq(self.beats.payload.u)]

        # one CRC step for every byte that leaves (header and body alike)
        crc_next = Signal(8)
        m.d.comb += crc_next.eq(crc8_step(tcrc, self.tx.payload))

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [reply.eq(self.kind), hidx.eq(0), tcrc.eq(0), slot.eq(0), half.eq(0)]
                    with m.If(self.kind == proto.RESULT):
                        m.d.sync += [r_cycles.eq(f.cycles), r_t.eq(f.t_run), with_u.eq(f.with_u)]
                    m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += [self.busy.eq(reply == proto.RESULT), self.tx.valid.eq(1), self.tx.payload.eq(head_byte)]
                with m.If(self.tx.ready):
                    m.d.sync += hidx.eq(hidx + 1)
                    with m.If(hidx != 0):
                        m.d.sync += tcrc.eq(crc_next)
                    with m.If(head_last):
                        with m.If(reply == proto.RESULT):
                            m.next = "BEAT"
                        with m.Else():
                            m.next = "TAIL"
            with m.State("BEAT"):               # take the next output beat of the core
                m.d.comb += self.busy.eq(1)
                with m.If(self.beats.valid):
                    m.d.comb += self.beats.ready.eq(1)
                    if self.registered:
                        m.d.sync += [bidx.eq(0), slot.eq(slot + 1), follow.eq(0)]
                    else:       # (this order of statements is the iCE40's placed netlist: ABC follows it)
                        m.d.sync += [beat_z.eq(self.beats.payload.z), beat_u.eq(self.beats.payload.u), bidx.eq(0),
                                     slot.eq(slot + 1)]
                    m.next = "BODY"
            with m.State("BODY"):
                # one step per record part; a packed count without its partner waits in ``low``
                # (no byte that step) unless it is the last neuron (an odd K: high nibble 0)
                emit, out = Signal(), Signal(8)
                m.d.comb += [self.busy.eq(1), emit.eq(1), out.eq(body_byte)]
                if packed:
                    with m.If(~with_u):
                        m.d.comb += [emit.eq(half | ((slot == S) & body_last)),
                                     out.eq(Mux(half, Cat(low, zsel[:4]), zsel[:4]))]
                if self.registered:
                    # the step in two cycles: the byte chosen here into ``byte_r``, offered in SEND
                    m.d.sync += [byte_r.eq(out), emit_r.eq(emit), last_r.eq(body_last), bidx.eq(bidx + 1)]
                    if packed:
                        m.d.sync += [half.eq(~half), low.eq(zsel[:4])]
                    m.next = "SEND"
                else:
                    m.d.comb += [self.tx.valid.eq(emit), self.tx.payload.eq(out)]
                    with m.If(~emit | self.tx.ready):
                        m.d.sync += bidx.eq(bidx + 1)
                        with m.If(emit):
                            m.d.sync += tcrc.eq(crc_next)
                        if packed:
                            m.d.sync += [half.eq(~half), low.eq(zsel[:4])]
                        self._after_step(m, body_last, slot == S)
            if self.registered:
                with m.State("SEND"):
                    m.d.comb += [self.busy.eq(1), self.tx.valid.eq(emit_r), self.tx.payload.eq(byte_r)]
                    with m.If(~emit_r | self.tx.ready):
                        with m.If(emit_r):
                            m.d.sync += tcrc.eq(crc_next)
                        with m.If(last_r):
                            m.d.sync += follow.eq(1)
                        self._after_step(m, last_r, slot == S, back="BODY")
            with m.State("TAIL"):
                m.d.comb += [self.busy.eq(reply == proto.RESULT), self.tx.valid.eq(1), self.tx.payload.eq(tcrc)]
                with m.If(self.tx.ready):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m

    @staticmethod
    def _after_step(m, beat_done, last_beat, back=None):
        """The next state once a body step is taken: the checksum after the last beat, the next
        beat, or (``back``) the next step of this beat."""
        with m.If(beat_done):
            with m.If(last_beat):
                m.next = "TAIL"
            with m.Else():
                m.next = "BEAT"
        if back is not None:
            with m.Else():
                m.next = back
