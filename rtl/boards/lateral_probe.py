"""A measurement top for the lateral engine alone (issue: measure before rebuilding).

:class:`LateralProbeTop` puts one :class:`~ipvae.rtl.core.lateral_array.LateralArray` on a board's PLL
clock with no host link: a xorshift32 generator issues one spike (j, z, first) per cycle, the
gather port walks the groups, and a registered XOR tree folds the gathered sums onto the lights,
so synthesis keeps every lane and every weight. What it measures is the lane array itself:
logic and flip-flops per lane, block RAM, and the clock its broadcast tree, tiles and gather reach.
"""
from __future__ import annotations

from amaranth import Cat, ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io

from ipvae.golden_model.golden import FixedModel
from ipvae.rtl.core.lateral_array import LateralArray
from ipvae.rtl.core.prng import xorshift32

from .family import INPUT_MHZ, pll_output
from .registry import Board
from .top import clock_from_pll

__all__ = ["LateralProbeTop"]

#: lights the folded sums drive
PROBE_LIGHTS = 8


class LateralProbeTop(Elaboratable):
    """LateralArray(fixed, lanes) on ``board`` at ``core_mhz`` (the PLL's nearest output), spikes
    from a generator, sums folded onto the lights. The clock domain has no reset: every register
    starts from its initial value (the configuration), so no reset net spans the lanes.

    Timing: one spike per cycle into the array (about 3 in 4 cycles carry one), a read-out shift
    every 64 cycles; the array's own ``latency`` (broadcast levels + 4) from spike to sums.

    Parameters
    ----------
    board : Board
        An ECP5 board (its PLL and lights).
    fixed : FixedModel
        The model whose W the array holds.
    lanes : int
        L, lateral lanes (a divisor of K).
    core_mhz : float
        The clock to constrain (the PLL's nearest output).
    tile_lanes, gather_lanes, drive_parts : int
        As in :class:`~ipvae.rtl.core.lateral_array.LateralArray` (drive_parts 2: F in the tiles
        as the array core builds it; 0: W alone).
    """

    def __init__(self, board: Board, fixed: FixedModel, lanes: int, core_mhz: float, *, tile_lanes: int = 36,
                 gather_lanes: int = 32, drive_parts: int = 2):
        self.board = board
        self.array = LateralArray(fixed, lanes, tile_lanes=tile_lanes, gather_lanes=gather_lanes,
                                  drive_parts=drive_parts)
        c = board.constraints["clock"]
        self.in_mhz = INPUT_MHZ[c["input"]]
        self.pll_mhz, self.pll = pll_output(board.family, c["input"], core_mhz)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd_sync = ClockDomain("sync", reset_less=True)
        pll_clk, _lock = clock_from_pll(m, platform, self.board, self.pll, self.in_mhz, self.pll_mhz)
        m.d.comb += cd_sync.clk.eq(pll_clk)
        m.submodules.array = arr = self.array
        K = arr.fixed.n_latents
        state = Signal(32, init=0x2545F491)
        m.d.sync += state.eq(xorshift32(state))
        phase = Signal(8)
        m.d.sync += phase.eq(phase + 1)
        jb = len(arr.spikes.payload.j)
        m.d.comb += [arr.spikes.valid.eq(state[31] | state[30]), arr.spikes.payload.drive.eq(state[29] & state[28]),
                     arr.spikes.payload.j.eq(state[:jb] % K if (1 << jb) != K else state[:jb]),
                     arr.spikes.payload.z.eq(state[16:16 + len(arr.spikes.payload.z)]),
                     arr.spikes.payload.first.eq(phase == 0)]
        # a read-out every 64 cycles: K / gather_lanes shifts would follow a phase in the core
        m.d.comb += arr.shift.eq(phase[:6] == 63)
        # fold the gathered bits 4:1 per registered level down to the lights
        level = arr.head
        while len(level) > PROBE_LIGHTS:
            n = max(PROBE_LIGHTS, -(-len(level) // 4))
            nxt = Signal(n)
            m.d.sync += nxt.eq(Cat(*[level[i::n].xor() for i in range(n)]))
            level = nxt
        for i in range(PROBE_LIGHTS):
            m.submodules[f"light{i}"] = light = io.Buffer("o", platform.request("led", i, dir="-"))
            m.d.comb += light.o.eq(level[i])
        return m
