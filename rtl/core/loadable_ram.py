"""Run-time loadable weight memory: one address port, read or write, as an iCE40 UP5K SPRAM."""
from __future__ import annotations

from amaranth import Cat, ClockSignal, Instance, Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError

__all__ = ["spram_tiles", "LoadableRam"]

SPRAM_WIDTH, SPRAM_DEPTH, SPRAM_COUNT = 16, 16384, 4


def spram_tiles(width: int) -> int:
    return -(-width // SPRAM_WIDTH)


class LoadableRam(wiring.Component):
    """Run-time loadable weight memory: one address port, read or write, as an iCE40 UP5K SPRAM.

    The UP5K's 30 block RAMs (120 kbit) cannot hold F and W of the reference model (64 + 128 kbit
    at 8 bits), but its four 256-kbit SPRAMs can. SPRAM has no initial contents, so a core built
    with ``weights="ram"`` stores F and W here and the host link fills them after configuration
    (docs/uart_protocol.md, LOAD frames).

    Members
    -------
    addr : In(range(depth))
    wr_data : In(unsigned(width)); wr_en : In(1)
        Write ``wr_data`` at ``addr`` this cycle.
    rd_en : In(1)
        Read ``addr`` this cycle; ``rd_data`` shows it the next cycle. With ``rd_en`` low
        ``rd_data`` holds, as an ``amaranth.lib.memory`` read port with ``en`` low does.
    rd_data : Out(unsigned(width))

    On an iCE40 platform the block is ``ceil(width / 16)`` SB_SPRAM256KA tiles side by side (read
    latency 1); elsewhere (simulation, Verilog export, ECP5) an ``amaranth.lib.memory.Memory``
    with one read and one write port sharing the address, which behaves the same.

    Parameters
    ----------
    width : int
        Bits per word.
    depth : int
        Words; at most what the four SPRAMs hold at this width on an iCE40.
    """
    def __init__(self, width: int, depth: int):
        if depth > SPRAM_DEPTH:
            raise ParameterError(f"a loadable weight memory holds at most {SPRAM_DEPTH} words (one SPRAM deep), "
                                 f"got {depth}: use more lanes or weights='rom'")
        self.width, self.depth = width, depth
        super().__init__({
            "addr": In(range(max(depth, 2))),
            "wr_data": In(unsigned(width)), "wr_en": In(1),
            "rd_en": In(1), "rd_data": Out(unsigned(width)),
        })

    def elaborate(self, platform):
        m = Module()
        # hold the read data with rd_en low by reading the last enabled address again
        last = Signal.like(self.addr)
        addr = Signal.like(self.addr)
        m.d.comb += addr.eq(Mux(self.rd_en | self.wr_en, self.addr, last))
        m.d.sync += last.eq(addr)
        if _is_ice40(platform):
            tiles = spram_tiles(self.width)
            wr = Cat(self.wr_data, Signal(tiles * SPRAM_WIDTH - self.width))
            address = Signal(14)
            m.d.comb += address.eq(addr)
            outs = []
            for t in range(tiles):
                dout = Signal(SPRAM_WIDTH, name=f"spram{t}_dout")
                m.submodules[f"spram{t}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=address, i_DATAIN=wr[t * SPRAM_WIDTH:(t + 1) * SPRAM_WIDTH], i_MASKWREN=0b1111,
                    i_WREN=self.wr_en, i_CHIPSELECT=1, i_CLOCK=ClockSignal("sync"),
                    i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dout)
                outs.append(dout)
            m.d.comb += self.rd_data.eq(Cat(*outs)[:self.width])
        else:
            m.submodules.mem = mem = memory.Memory(shape=unsigned(self.width), depth=self.depth, init=[])
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=())
            m.d.comb += [wp.addr.eq(addr), wp.data.eq(self.wr_data), wp.en.eq(self.wr_en),
                         rp.addr.eq(addr), self.rd_data.eq(rp.data)]
        return m


def _is_ice40(platform) -> bool:
    try:
        from amaranth.vendor import LatticeICE40Platform  # lazy: the vendor module only when elaborating
    except ImportError:       # pragma: no cover
        return False
    return isinstance(platform, LatticeICE40Platform)
