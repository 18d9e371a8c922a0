"""The boards the flow builds for: one record each, the only place a board's facts live.

A record names the amaranth-boards platform class, the nextpnr device and package flags, the
reference configuration (lanes, sampler, weight placement) and its constraints file
(``constraints/<name>.toml``: core clock, UART, lights, extra pins). The CLI's ``--board`` choices,
synthesis, the sweep, the latency document and the benchmark all read this registry.

Adding a board: write ``constraints/<name>.toml`` and add one :class:`Board` to :data:`BOARDS`
(docs/architecture.md). Pure Python: importing it loads no Amaranth (the CLI builds its parser
from it at start-up).
"""
from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

from ipvae.golden_model.errors import ParameterError

from .family import family_of, pll_output

__all__ = ["Board", "BOARDS", "BOARD_NAMES", "get_board"]

@dataclass(frozen=True)
class Board:
    """One board the flow builds for: its platform, FPGA family, device flags and the reference
    configuration (lanes, sampler, weight placement, bundle) with the measured reason for it.
    ``constraints`` reads constraints/<name>.toml (clock, UART, lights, pins); ``fpga`` is the
    family's module (rtl/boards/ice40.py, ecp5.py), from which ``resources`` and ``tools`` come;
    ``pll_mhz`` and ``core_hz`` are the clock the PLL really produces."""
    name: str
    family: str                 # "ice40" | "ecp5"
    platform_name: str          # for people: board, device, package
    platform_class: str         # "module:Class" of the amaranth-boards platform
    nextpnr_device: tuple       # nextpnr's device/package/speed flags
    weights: str                # where F and W live: "ram" (loaded over the UART) or "rom" (bitstream)
    lanes: int                  # default P of the reference configuration
    search: int                 # sampler thresholds per cycle (0: the parallel sampler)
    reference: str              # the configuration the board is sized for
    bundle: str | None = None   # default bundle for its builds (None: the committed default bundle)
    note: str = ""              # why these lanes and this clock (the measured limit)
    synth_opts: str = ""        # options of Yosys's synth_<family> (how multipliers map)
    reply_slice: bool = False   # the reply path registered (rtl/link/host_link.py): a skid buffer in
                                # front of the reply writer, whose body bytes are chosen a cycle ahead
    reseed_wait: bool = True    # CoreConfig.reseed_wait (False: the iCE40, a few cells fewer)
    lateral_lanes: int = 0      # CoreConfig.lateral_lanes: 0 the fused-lane core, L the array core
                                # (rtl/core/array_core.py; ``lanes`` is then its S sampler units)

    @property
    def constraints_file(self):
        return resources.files("ipvae.constraints") / f"{self.name}.toml"

    @cached_property
    def constraints(self) -> dict:
        with self.constraints_file.open("rb") as f:
            return tomllib.load(f)

    def platform(self):
        module, cls = self.platform_class.split(":")
        return getattr(importlib.import_module(module), cls)()

    def pll_mhz(self, core_mhz: float | None = None) -> float:
        """The clock a bitstream asking for ``core_mhz`` (None: constraints' core_mhz) really runs at:
        the PLL's output nearest it (ParameterError if the PLL cannot come within 1 %)."""
        c = self.constraints["clock"]
        return pll_output(self.family, c["input"], float(core_mhz or c["core_mhz"]))[0]

    @property
    def core_hz(self) -> float:
        """The core clock the bitstream runs at: the PLL's output nearest constraints' core_mhz."""
        return self.pll_mhz() * 1e6

    @property
    def baud(self) -> int:
        return int(self.constraints["uart"]["baud"])

    @property
    def fpga(self):
        """The module holding this board's FPGA family's facts (rtl/boards/ice40.py, ecp5.py)."""
        return family_of(self.family)

    @property
    def resources(self):
        return self.fpga.RESOURCES

    @property
    def tools(self):
        return self.fpga.TOOLS


def _ulx3s(size, search=1, **kw):
    return dict(family="ecp5", platform_name=f"ULX3S (ECP5 LFE5U-{size}F-6 CABGA381)",
                platform_class=f"amaranth_boards.ulx3s:ULX3S_{size}F_Platform",
                nextpnr_device=(f"--{size}k", "--package", "CABGA381", "--speed", "6"), weights="rom",
                search=search, **kw)


BOARDS = {b.name: b for b in (
    # F, W in SPRAM; 4 lanes use all 8 DSPs and 29 of 30 EBR (docs/synthesis.md); multipliers in SB_MAC16
    Board("icebreaker", family="ice40", platform_name="iCEBreaker (iCE40 UP5K-SG48)",
          platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
          nextpnr_device=("--up5k", "--package", "sg48"),
          weights="ram", lanes=4, search=4, reference="8x8 patches, K=128 (the default bundle)", synth_opts="-dsp",
          reseed_wait=False),
    # the array core (issue 23): 512 lateral lanes read a whole column of W (and half one of F)
    # from 197 of 208 DP16KD, one spike a cycle; 16 sampler units, 2 thresholds a cycle; the
    # products are adder trees in logic (-nodsp), 92 % of the LUT4 (docs/synthesis.md, "the array
    # core"). Its model is the trained paper-size bundle (golden_model/bundles/paper, issue 12)
    Board("ulx3s-85f", **_ulx3s(85, lanes=16, search=2, lateral_lanes=512,
                                reference="16x16 patches, K=512 (the paper configuration)",
                                bundle="builtin:paper", synth_opts="-nodsp", reply_slice=True)),
    # the cheaper variants of the same board run the default bundle: the paper model's F and W
    # (3 Mbit) do not fit their block RAM (45F: 108 DP16KD = 1.9 Mbit; 25F: 56 = 1 Mbit). Both run
    # the array core too: K = 128 neurons on 128 lateral lanes (one a lane) beside 16 sampler units
    # on the 45F, on 64 lanes (two a lane) beside 8 on the 25F; products in logic, no DSP
    # (docs/synthesis.md)
    Board("ulx3s-45f", **_ulx3s(45, lanes=16, search=2, lateral_lanes=128,
                                reference="8x8 patches, K=128 (the default bundle)")),
    Board("ulx3s-25f", **_ulx3s(25, lanes=8, search=2, lateral_lanes=64,
                                reference="8x8 patches, K=128 (the default bundle)")),
)}
BOARD_NAMES = tuple(BOARDS)


def get_board(name: str) -> Board:
    if name not in BOARDS:
        raise ParameterError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]
