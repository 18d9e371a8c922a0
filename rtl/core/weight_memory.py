"""F or W as the data path reads them: a ROM (block RAM initialised from the bitstream) or a RAM
loaded at run time (rtl/core/loadable_ram.py: SPRAM on the iCE40, a plain memory elsewhere)."""
from __future__ import annotations

from amaranth import Module, Mux, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError

from .bits import index_bits
from .config import WEIGHT_PLACEMENTS, check_weights
from .loadable_ram import LoadableRam

__all__ = ["WeightMemory", "check_weights", "load_layout", "WEIGHT_PLACEMENTS"]

def load_layout(width, depth):
    """Payload of a block's ``load`` stream: one word of F or W and its address."""
    return data.StructLayout({"addr": unsigned(index_bits(depth)), "data": unsigned(width)})


class WeightMemory(wiring.Component):
    """F or W as the data path reads them: a ROM (block RAM initialised from the bitstream) or a RAM
    loaded at run time (rtl/core/loadable_ram.py: SPRAM on the iCE40, a plain memory elsewhere).

    Members
    -------
    rd_addr : In(range(depth)); rd_en : In(1)
    rd_data : Out(unsigned(width))
        A synchronous read: ``rd_data`` shows the word at ``rd_addr`` one cycle after a cycle with
        ``rd_en`` high, and holds while ``rd_en`` is low.
    loading : In(1); wr_addr : In(range(depth)); wr_data : In(unsigned(width)); wr_en : In(1)
        Only with ``weights="ram"``. While ``loading`` is high the port belongs to the loader (reads
        are off); ``wr_en`` writes ``wr_data`` at ``wr_addr``.

    Timing: read latency 1 cycle, one read per cycle, one write per cycle while loading.

    Parameters
    ----------
    width : int
        Bits per word (P weights).
    depth : int
        Words.
    weights : str
        "rom" or "ram".
    init : list[int] | None
        The ROM's words (only with "rom").
    """
    latency = 1

    def __init__(self, width: int, depth: int, weights: str, init=None):
        """init: the words of a ROM (``ipvae.golden_model.layout.weight_words``); unused for a RAM."""
        check_weights(weights)
        if weights == "rom" and (init is None or len(init) != depth):
            raise ParameterError(f"a weight ROM needs {depth} initial words, got {None if init is None else len(init)}")
        self.width, self.depth, self.weights, self.init = width, depth, weights, init
        members = {"rd_addr": In(range(max(depth, 2))), "rd_en": In(1), "rd_data": Out(unsigned(width))}
        if weights == "ram":
            members.update({"loading": In(1), "wr_addr": In(range(max(depth, 2))), "wr_data": In(unsigned(width)),
                            "wr_en": In(1)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        if self.weights == "rom":
            m.submodules.mem = mem = memory.Memory(shape=unsigned(self.width), depth=self.depth, init=self.init)
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(self.rd_addr), rd.en.eq(self.rd_en), self.rd_data.eq(rd.data)]
        else:
            m.submodules.store = store = LoadableRam(self.width, self.depth)
            m.d.comb += [store.addr.eq(Mux(self.loading, self.wr_addr, self.rd_addr)),
                         store.wr_data.eq(self.wr_data), store.wr_en.eq(self.loading & self.wr_en),
                         store.rd_en.eq(self.rd_en & ~self.loading), self.rd_data.eq(store.rd_data)]
        return m
