"""Everything of a board top except the clock and the pins: UART receiver and transmitter, the
host link with its core, and status lights. This is the design the UART co-simulation runs
(sim/cocotb_board.py); rtl/boards/top.py puts a PLL and the board's pins around it."""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.timing import FEED_MARGIN, UART_BYTE_BITS

from .host_link import HostLink
from .uart import UARTReceiver, UARTTransmitter, uart_divisor

__all__ = ["BoardLink"]


class BoardLink(wiring.Component):
    """Everything of a board top except the clock and the pins: UART receiver and transmitter, the
    host link with its core, and status lights. This is the design the UART co-simulation runs
    (sim/cocotb_board.py); rtl/boards/top.py puts a PLL and the board's pins around it.

    Members
    -------
    rx : In(1)       UART from the host (idle high)
    tx : Out(1)      UART to the host (idle high)
    leds : Out(3)    bit 0: weights loaded and idle, bit 1: busy, bit 2: error (stretched to
                     3 to 4 ticks of a prescaler of about clock_hz / 16 cycles, so a single bad
                     frame is visible)

    Timing: an inference through the pins takes ``cycle_model.link_cycles`` in steady state (the
    slowest of request bytes, reply bytes, and the compute chain: feed, core cycles, first beat,
    K/P beats, hand-off); the UART's bit time is ``divisor`` = round(clock_hz / baud) cycles.

    Parameters
    ----------
    config : CoreConfig
        The core behind the link.
    clock_hz : int
        The core clock (the UART divisor and INFO).
    baud : int
        The UART's rate (within 2 % at ``clock_hz``).
    timeout_cycles : int | None
        Frame timeout; None: the byte time the protocol allows (docs/uart_protocol.md).
    reply_slice : bool
        The reply path registered (``HostLink``'s ``reply_slice``).
    """
    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(3)

    def __init__(self, config: CoreConfig, *, clock_hz: int, baud: int, timeout_cycles: int | None = None,
                 reply_slice: bool = False):
        """reply_slice: the reply path registered (``HostLink``'s ``reply_slice``)."""
        self.divisor = uart_divisor(clock_hz, baud)
        self.clock_hz, self.baud = int(clock_hz), int(baud)
        if timeout_cycles is None:
            # 100 ms, and never under 64 byte times
            timeout_cycles = max(self.clock_hz // 10, 64 * 10 * self.divisor)
        # pipelined INFER (docs/uart_protocol.md, Pipelining): the waiting request's N codes must be
        # fed in the three byte times between the reply's checksum byte and the next frame's second byte
        n, room = config.fixed.n_inputs, 3 * UART_BYTE_BITS * self.divisor
        if n + FEED_MARGIN > room:
            raise ParameterError(f"{baud} baud at {clock_hz / 1e6:g} MHz leaves {room} cycles in three "
                                 f"byte times, fewer than the {n + FEED_MARGIN} the link needs to feed N={n} codes "
                                 "between pipelined requests: lower the baud rate or raise the clock")
        self.core = config.build()
        self.link = HostLink(self.core, clock_hz=clock_hz, timeout_cycles=timeout_cycles, reply_slice=reply_slice)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = urx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = utx = UARTTransmitter(self.divisor)
        m.submodules.link = link = self.link
        wiring.connect(m, urx.o, link.rx)
        wiring.connect(m, link.tx, utx.i)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        # error light: 4 ticks of a free-running prescaler (2^k cycles, k the largest with
        # 2^k <= clock_hz / 16), so it stays on 1/4 s at most and no wide counter is compared
        prescale = Signal(max((max(self.clock_hz // 16, 2)).bit_length() - 1, 1))
        tick = Signal()
        m.d.sync += [prescale.eq(prescale + 1), tick.eq(prescale.all())]
        stretch = Signal(3)
        error = Signal()                # registered: the link's error decision is late in its cycle
        m.d.sync += error.eq(link.error)
        with m.If(error):
            m.d.sync += stretch.eq(4)
        with m.Elif(tick & (stretch != 0)):
            m.d.sync += stretch.eq(stretch - 1)
        m.d.comb += [self.leds[0].eq(link.loaded & ~link.busy), self.leds[1].eq(link.busy),
                     self.leds[2].eq(stretch != 0)]
        return m
