"""LOAD frames' payload bytes in, weight words out to the core (docs/uart_protocol.md, LOAD)."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model import protocol as proto

__all__ = ["WeightLoader", "loader_byte_layout"]


def loader_byte_layout():
    """One payload byte of a LOAD and its index in the payload."""
    return data.StructLayout({"byte": unsigned(8), "count": unsigned(16)})


class WeightLoader(wiring.Component):
    """A LOAD request's payload as a stream of bytes into the core's F or W memory.

    Payload byte 0 is the matrix (0: F, 1: W), bytes 1-2 the first word (little-endian), then P
    weights per word, each in ``weight_bytes`` little-endian bytes (lane p first). The word range
    is checked before the first write (two cycles with ``hold`` high after the header); each word
    is written when its last byte arrives, from registers, so nothing of the byte decoding reaches
    the memory's address in the same cycle. A LOAD during an inference is refused (BUSY) before
    it writes anything.

    Members
    -------
    i : In(stream.Signature(loader_byte_layout()))
        Payload byte ``count`` of the current LOAD (always ready: one byte per cycle at most).
    begin : In(1)                   a frame's payload starts (clears the word counters)
    length : In(16); last : In(16)  the frame's payload length and length - 1
    running : In(1)                 an inference is in the core
    ok : In(1)                      no error recorded for this request so far (only then a word is written)
    o : Out(stream.Signature(core.load_layout))   weight words (matrix, address, P weights) to the core
    err : Out(4); err_valid : Out(1)   an error of this request found this cycle (BAD_ADDRESS,
                                       BUSY, BAD_LENGTH), for the executor's first-error register
    hold : Out(1)                   the frame receiver takes no byte this cycle (range check)
    matrix : Out(8); addr0 : Out(16); addr : Out(16); words : Out(16); wrote : Out(1)
        the request's matrix, first word, next word, words written, and whether it wrote any
    invalidate : Out(1)             a word is written this cycle: the matrix's words from ``addr0``
                                    on are no longer those a past LOAD validated

    Timing: the header's last byte (count 2) is followed by two cycles of ``hold`` (the end of the
    range into a register, then the compare); a word's ``o`` beat is valid the cycle after its
    last byte and is taken by the core in that cycle (the core's ``load.ready`` is high between
    inferences), long before the next word's P bytes arrive.

    Parameters
    ----------
    core : IpvaeCore
        The core whose memories it fills (``weights="ram"``): N, K/P, the weight width, the load
        layout.
    """

    def __init__(self, core):
        self.fixed, self.lanes, self.slots = core.fixed, core.lanes, core.slots
        super().__init__({
            "i": In(stream.Signature(loader_byte_layout())),
            "begin": In(1), "length": In(16), "last": In(16), "running": In(1), "ok": In(1),
            "o": Out(stream.Signature(core.load_layout)),
            "err": Out(4), "err_valid": Out(1), "hold": Out(1),
            "matrix": Out(8), "addr0": Out(16), "addr": Out(16), "words": Out(16), "wrote": Out(1),
            "invalidate": Out(1),
        })

    @property
    def depth(self):
        """Words of F and W (rtl/core/loadable_ram.py)."""
        S, N, K = self.slots, self.fixed.n_inputs, self.fixed.n_latents
        return [S * N, K * S]

    def elaborate(self, platform):
        m = Module()
        wb = proto.weight_bytes(self.fixed.fmt.weight_bits)
        P = self.lanes * wb                     # bytes per word
        depth = self.depth
        matrix, addr0, addr, words, wrote = self.matrix, self.addr0, self.addr, self.words, self.wrote
        lane = Signal(range(max(P, 2)))         # byte of the word being assembled
        word = Signal(P * 8)
        range_check = Signal()                  # the word range is checked the cycle after the header
        codes = []                              # (condition, code): the last true one is this cycle's error

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.begin):
            m.d.sync += [wrote.eq(0), lane.eq(0), words.eq(0)]

        # the whole word range is checked before the first write (the first word needs P more
        # bytes): a refused LOAD changes nothing. Two cycles: the end of the range into a
        # register (the last byte's offset: first word times the word's bytes plus the payload),
        # then the compare
        end_bytes = Signal((P * 0xFFFF + 0xFFFF).bit_length())
        range_cmp = Signal()
        m.d.sync += range_cmp.eq(range_check)
        with m.If(range_check):
            m.d.sync += [range_check.eq(0), end_bytes.eq(addr0 * P + (self.length - proto.LOAD_HEADER))]
        m.d.comb += self.hold.eq(range_check | range_cmp)
        codes.append((range_cmp & (end_bytes > Mux(matrix[0], depth[1] * P, depth[0] * P)), "BAD_ADDRESS"))

        m.d.comb += self.i.ready.eq(1)
        byte, count = self.i.payload.byte, self.i.payload.count
        take = self.i.valid
        with m.If(take):
            with m.Switch(count):
                with m.Case(0):
                    m.d.sync += matrix.eq(byte)
                with m.Case(1):
                    m.d.sync += addr0[:8].eq(byte)
                with m.Case(2):
                    m.d.sync += [addr0[8:].eq(byte), addr.eq(Cat(addr0[:8], byte)), range_check.eq(1)]
                with m.Default():
                    m.d.sync += [word.eq(Cat(word[8:], byte)) if P > 1 else word.eq(byte), lane.eq(lane + 1)]
        header = take & (count == 0)
        codes.append((header & (byte > 1), "BAD_ADDRESS"))
        # weights change only between inferences: nothing is written
        codes.append((header & self.running, "BUSY"))
        word_end = take & (count > 2) & (lane == P - 1)
        end = Mux(matrix[0], depth[1], depth[0])
        codes.append((word_end & (addr >= end), "BAD_ADDRESS"))
        with m.If(word_end):
            m.d.sync += lane.eq(0)
            with m.If((addr < end) & self.ok):
                full = Cat(word[8:], byte) if P > 1 else byte
                m.d.comb += self.invalidate.eq(1)
                m.d.sync += [self.o.valid.eq(1), self.o.payload.matrix.eq(matrix[0]), self.o.payload.addr.eq(addr),
                             self.o.payload.data.eq(self._narrow(full)),
                             addr.eq(addr + 1), words.eq(words + 1), wrote.eq(1)]
        # the payload ends inside a word
        codes.append((take & (count > 2) & (count == self.last) & (lane != P - 1), "BAD_LENGTH"))

        for cond, name in codes:                # later entries win, as the executor's first-error rule reads them
            with m.If(cond):
                m.d.comb += [self.err_valid.eq(1), self.err.eq(proto.ERROR_CODES[name])]
        return m

    def _narrow(self, full):
        """P little-endian groups of weight_bytes bytes (lane p first) to the core's P
        weight_bits-wide fields."""
        wb = self.fixed.fmt.weight_bits
        g = 8 * proto.weight_bytes(wb)
        return Cat(*[full[g * p:g * p + wb] for p in range(self.lanes)])
