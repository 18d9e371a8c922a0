"""8N1 UART receiver and transmitter with byte streams (the host link's physical layer).

Both run from the core's clock; one bit lasts ``divisor`` cycles (``divisor = round(f_clk / baud)``,
at least 4). Neither has a FIFO: the receiver holds one byte, and the host keeps at most one
request ahead of the replies (docs/uart_protocol.md, Pipelining).
"""

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError

__all__ = ["uart_divisor", "UARTReceiver", "UARTTransmitter"]


def uart_divisor(clock_hz: float, baud: int) -> int:
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise ParameterError(f"baud rate {baud} is too high for a {clock_hz / 1e6:g} MHz clock "
                             f"(needs at least 4 cycles per bit, got {clock_hz / baud:.2f})")
    error = abs(clock_hz / divisor - baud) / baud
    if error > 0.02:
        raise ParameterError(f"baud rate {baud} is {error:.1%} off at {clock_hz / 1e6:g} MHz "
                             f"(divisor {divisor}); a UART needs under 2 %")
    return divisor


class _BitTimed(wiring.Component):
    """A UART half: ``divisor`` clock cycles per bit (members from the subclass's annotations)."""

    def __init__(self, divisor: int):
        if not isinstance(divisor, int) or divisor < 4:
            raise ParameterError(f"UART divisor must be an integer >= 4, got {divisor!r}")
        self.divisor = divisor
        super().__init__()


class UARTReceiver(_BitTimed):
    """8N1 receiver: bytes from the ``rx`` pin as a stream.

    Members
    -------
    rx : In(1)                                  the pin (idle high), synchronised by two flip-flops
    o : Out(stream.Signature(unsigned(8)))      one beat per byte with a valid stop bit
    framing_error : Out(1)                      pulse: a byte whose stop bit was low (dropped)
    overrun : Out(1)                            pulse: a byte arrived while ``o`` was still full (dropped)

    Timing: each bit is sampled once, half-way (``divisor // 2`` cycles after the start edge is
    seen, then every ``divisor``); the beat appears at the middle of the stop bit, 3 + divisor // 2
    + 9 divisor cycles after the falling edge on the pin (2 synchroniser cycles, 1 edge register).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (:func:`uart_divisor`), at least 4.
    """
    rx: In(1, init=1)
    o: Out(stream.Signature(unsigned(8)))
    framing_error: Out(1)
    overrun: Out(1)

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        rx_q = Signal(init=1)
        m.d.sync += rx_q.eq(rx)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(10))
        shift = Signal(8)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(rx_q & ~rx):
                    # first sample one and a half bits after the edge: the middle of data bit 0;
                    # the start bit is checked half-way
                    m.d.sync += [timer.eq(self.divisor // 2 - 1), bits.eq(0)]
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(rx):          # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += timer.eq(self.divisor - 1)
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(bits + 1)]
                    with m.If(bits == 8):
                        # stop bit
                        with m.If(~rx):
                            m.d.comb += self.framing_error.eq(1)
                        with m.Elif(self.o.valid & ~self.o.ready):
                            m.d.comb += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += shift.eq(Cat(shift[1:], rx))
        # what the formal harness (sim/formal.py) reads; nothing here adds logic
        self.observe = dict(timer=timer, bits=bits, shift=shift, idle=fsm.ongoing("IDLE"), data=fsm.ongoing("DATA"))
        return m


class UARTTransmitter(_BitTimed):
    """8N1 transmitter: a byte stream onto the ``tx`` pin.

    Members
    -------
    i : In(stream.Signature(unsigned(8)))
    tx : Out(1)                                 the pin, idle high
    busy : Out(1)

    Timing: a byte takes 10 ``divisor`` cycles on the pin; ``i.ready`` is high while idle, from the
    cycle after the stop bit: back-to-back bytes start 10 ``divisor`` + 1 cycles apart.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (:func:`uart_divisor`), at least 4.
    """
    i: In(stream.Signature(unsigned(8)))
    tx: Out(1, init=1)
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(10)          # start, 8 data bits LSB first, stop
        left = Signal(range(11))
        m.d.comb += [self.busy.eq(left != 0), self.i.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.i.valid):
                m.d.sync += [shift.eq(Cat(0, self.i.payload, 1)), left.eq(10), timer.eq(self.divisor - 1),
                             self.tx.eq(0)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self.divisor - 1), left.eq(left - 1), shift.eq(shift >> 1),
                             self.tx.eq(shift[1])]
                with m.If(left == 1):
                    m.d.sync += self.tx.eq(1)
        self.observe = dict(timer=timer, shift=shift, left=left)     # for the formal harness only
        return m
