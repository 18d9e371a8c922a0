"""Board tops: a PLL raises the board's oscillator to the core clock, and rtl/board_link.py (UART
host link, core, status lights) runs in that domain, held in reset until the PLL locks.

The boards and their facts are records in rtl/board_registry.py; what the flow needs beyond the
amaranth-boards platforms (clock target, baud rate, lights, extra pins) is in
constraints/<board>.toml; nothing here repeats either.
"""
from amaranth import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.build import Attrs, Pins, Resource
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .board_link import BoardLink
from .board_registry import BOARD_NAMES, BOARDS, Board, get_board
from .core_config import CoreConfig
from .pll import INPUT_MHZ, pll_output

__all__ = ["Board", "BOARDS", "BOARD_NAMES", "BoardTop", "get_board"]


class BoardTop(Elaboratable):
    """The core on a board: PLL, reset until lock, BoardLink on the UART pins, status lights."""

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
        pll_clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
        if self.board.family == "ice40":
            pad = platform.request(c["clock"]["input"], dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", **{f"p_{k}": v for k, v in self.pll.items()},
                i_PACKAGEPIN=pad.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=pll_clk, o_LOCK=lock)
        else:
            m.submodules.clk_in = clk_in = io.Buffer("i", platform.request(c["clock"]["input"], dir="-"))
            p = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{self.in_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{self.pll_mhz:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKOP_ENABLE="ENABLED",
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"], p_CLKI_DIV=p["CLKI_DIV"],
                i_CLKI=clk_in.i, i_CLKFB=pll_clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=pll_clk, o_LOCK=lock)
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
        if self.board.family == "ice40":
            return dict(add_constraints=f"# core clock (constraints/{self.board.name}.toml)\n"
                                        f"set_frequency clk {self.pll_mhz:g}\n")
        return dict(add_preferences=f"# core clock (constraints/{self.board.name}.toml)\n"
                                    f'FREQUENCY NET "clk" {self.pll_mhz:g} MHz;\n')
