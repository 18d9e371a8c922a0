"""PLL settings of the boards' clock inputs, in pure Python (no Amaranth): the board tops
(rtl/boards.py) instantiate them, and the board registry's ``core_hz`` is their real output (a
requested 54 MHz from the ULX3S's 25 MHz is 25 x 13 / 6 = 54.17 MHz), so every latency figure uses
the clock the bitstream runs at."""
from __future__ import annotations

from ipvae.golden_model.errors import ParameterError

__all__ = ["INPUT_MHZ", "ice40_pll", "ecp5_pll", "pll_output"]

#: the boards' oscillators, by their amaranth-boards resource name
INPUT_MHZ = {"clk12": 12.0, "clk25": 25.0}


def ice40_pll(f_in_mhz: float, f_out_mhz: float):
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


def ecp5_pll(f_in_mhz: float, f_out_mhz: float):
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


def pll_output(family: str, input_name: str, mhz: float):
    """(output MHz, settings) of the family's PLL closest to ``mhz`` from the oscillator ``input_name``."""
    find = ice40_pll if family == "ice40" else ecp5_pll
    return find(INPUT_MHZ[input_name], mhz)
