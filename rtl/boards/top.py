"""Board tops: a PLL raises the board's oscillator to the core clock, and rtl/link/board_link.py (UART
host link, core, status lights) runs in that domain, held in reset until the PLL locks.

The boards and their facts are records in rtl/boards/registry.py; what the flow needs beyond the
amaranth-boards platforms (clock target, baud rate, lights, extra pins) is in
constraints/<board>.toml; nothing here repeats either.
"""
from amaranth import ClockDomain, Elaboratable, Module
from amaranth.build import Attrs, Pins, Resource
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.link.board_link import BoardLink

from .family import INPUT_MHZ, pll_output
from .registry import BOARD_NAMES, BOARDS, Board, get_board

__all__ = ["Board", "BOARDS", "BOARD_NAMES", "BoardTop", "get_board"]


def clock_from_pll(m, platform, board: Board, pll: dict, in_mhz: float, out_mhz: float):
    """Add the board family's PLL (settings ``pll`` from the family's solver) on the board's
    oscillator to ``m``: returns its (output clock, lock) signals."""
    return board.fpga.pll_instance(m, platform, board.constraints["clock"]["input"], pll, in_mhz, out_mhz)


class BoardTop(Elaboratable):
    """The core on a board: PLL, reset until lock, BoardLink on the UART pins, status lights.

    Timing: the core clock is ``pll_mhz`` (the family's PLL nearest the requested ``core_mhz``),
    constrained on the net ``clk`` (``timing_constraints``); the logic is held in reset until the
    PLL locks. Per inference: :class:`~ipvae.rtl.link.board_link.BoardLink`'s timing.

    Parameters
    ----------
    board : Board
        The board record (rtl/boards/registry.py).
    config : CoreConfig
        The core to build; its ``weights`` is the board's placement unless given otherwise.
    core_mhz : float | None
        Requested core clock (default: constraints/<board>.toml).
    baud : int | None
        UART rate (default: the board's).
    """

    def __init__(self, board: Board, config: CoreConfig, *, core_mhz: float | None = None, baud: int | None = None):
        """config: the core to build; its ``weights`` is the board's placement unless given otherwise
        (build it with ``board.core_config(fixed, ...)``)."""
        self.board = board
        self.core_mhz = float(core_mhz or board.constraints["clock"]["core_mhz"])
        self.baud = int(baud or board.baud)
        self.weights = config.weights
        self.config = config
        self.in_mhz = None
        self.pll = None
        self.link = BoardLink(config, clock_hz=int(round(self._pll_out() * 1e6)), baud=self.baud,
                              reply_slice=board.reply_slice)

    def _pll_out(self):
        c = self.board.constraints["clock"]
        self.in_mhz = INPUT_MHZ[c["input"]]
        out, self.pll = pll_output(self.board.family, c["input"], self.core_mhz)
        self.pll_mhz = out
        return out

    def elaborate(self, platform):
        m = Module()
        c = self.board.constraints
        m.domains.sync = cd_sync = ClockDomain("sync")
        pll_clk, lock = clock_from_pll(m, platform, self.board, self.pll, self.in_mhz, self.pll_mhz)
        # the core clock net is "clk" (the top's sync domain); its constraint is in
        # timing_constraints(), passed to the flow with the generated pcf / lpf
        m.d.comb += cd_sync.clk.eq(pll_clk)
        m.submodules.reset = ResetSynchronizer(~lock, domain="sync")

        m.submodules.link = link = self.link
        uart = platform.request(c["uart"]["resource"], 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        for bit, role in enumerate(("ready", "busy", "error")):
            if role in c.get("lights", {}):
                name, number = c["lights"][role]
                m.submodules[f"light_{role}"] = light = io.Buffer("o", platform.request(name, number, dir="-"))
                m.d.comb += light.o.eq(link.leds[bit])
        for pin in c.get("pins", []):
            platform.add_resources([Resource(pin["name"], 0, Pins(pin["site"], dir="o"), Attrs(**pin["attrs"]))])
            m.submodules[f"pin_{pin['name']}"] = buf = io.Buffer("o", platform.request(pin["name"], 0, dir="-"))
            m.d.comb += buf.o.eq(pin["drive"])
        return m

    def timing_constraints(self):
        """prepare() keyword for the core clock's constraint, from constraints/<board>.toml."""
        return self.board.fpga.clock_constraint("clk", self.pll_mhz, f"core clock (constraints/{self.board.name}.toml)")
