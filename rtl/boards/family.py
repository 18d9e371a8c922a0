"""One dispatch on a board's FPGA family: :func:`family_of` returns the module holding that
family's facts (:mod:`~ipvae.rtl.boards.ice40`, :mod:`~ipvae.rtl.boards.ecp5`). Pure Python."""
from __future__ import annotations

from types import ModuleType

from ipvae.golden_model.errors import ParameterError

from . import ecp5, ice40

__all__ = ["FAMILIES", "INPUT_MHZ", "family_of", "pll_output"]

FAMILIES = {ice40.NAME: ice40, ecp5.NAME: ecp5}
#: the boards' oscillators, by their amaranth-boards resource name
INPUT_MHZ = {"clk12": 12.0, "clk25": 25.0}


def family_of(name: str) -> ModuleType:
    if name not in FAMILIES:
        raise ParameterError(f"unknown FPGA family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def pll_output(family: str, input_name: str, mhz: float):
    """(output MHz, settings) of the family's PLL closest to ``mhz`` from the oscillator ``input_name``
    (a requested 54 MHz from the ULX3S's 25 MHz is 25 x 13 / 6 = 54.17 MHz: every latency figure uses
    the clock the bitstream really runs at)."""
    return family_of(family).pll(INPUT_MHZ[input_name], mhz)
