"""Board tops (rtl/boards/top.py): PLL settings, constraints/ files applied to the generated pin
and timing constraints, parameter errors. No synthesis tools run here (tests/test_synth.py)."""
import json
from pathlib import Path

import pytest

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.boards.ecp5 import pll as ecp5_pll
from ipvae.rtl.boards.ice40 import pll as ice40_pll
from ipvae.rtl.boards.top import BOARD_NAMES, BoardTop, get_board
from ipvae.rtl.core.config import CoreConfig


def test_ice40_pll_48_from_12():
    out, p = ice40_pll(12.0, 48.0)
    assert out == 48.0 and p == dict(DIVR=0, DIVF=63, DIVQ=4, FILTER_RANGE=1)   # as icepll -i 12 -o 48


@pytest.mark.parametrize("f_out", [24.0, 36.0, 50.25, 60.0])
def test_ice40_pll_limits(f_out):
    out, p = ice40_pll(12.0, f_out)
    pfd = 12.0 / (p["DIVR"] + 1)
    vco = pfd * (p["DIVF"] + 1)
    assert 10 <= pfd <= 133 and 533 <= vco <= 1066 and abs(out - f_out) <= 0.01 * f_out
    assert out == vco / 2 ** p["DIVQ"]


@pytest.mark.parametrize("f_out", [100.0, 75.0, 125.0])
def test_ecp5_pll(f_out):
    out, p = ecp5_pll(25.0, f_out)
    assert out == 25.0 * p["CLKFB_DIV"] / p["CLKI_DIV"] == f_out
    assert 400 <= out * p["CLKOP_DIV"] <= 800


def test_pll_errors():
    with pytest.raises(ParameterError, match="no iCE40 PLL setting gives 600.0 MHz from 12.0 MHz within 1 %"):
        ice40_pll(12.0, 600.0)
    with pytest.raises(ParameterError,
                       match="^unknown board 'arty'; choose one of icebreaker, ulx3s-85f, ulx3s-45f, ulx3s-25f$"):
        get_board("arty")


def _small():
    tensors, _ = random_float_model(16, 16, seed=1)
    return fold(tensors, Formats())


def test_constraints_reach_the_generated_files():
    ice = get_board("icebreaker")
    top = BoardTop(ice, CoreConfig(_small(), 2, weights=ice.weights))
    plan = ice.platform().prepare(top, name="top", **top.timing_constraints())
    pcf = plan.files["top.pcf"]
    assert "set_io uart_0__rx__io 6" in pcf and "set_io uart_0__tx__io 9" in pcf
    assert "\nset_frequency clk 30\n" in pcf                      # constraints/icebreaker.toml core_mhz
    assert top.weights == "ram" and top.link.divisor == 10     # 30 MHz / 3 Mbaud

    ulx = get_board("ulx3s-85f")
    top = BoardTop(ulx, CoreConfig(_small(), 2, search=ulx.search, weights=ulx.weights))
    lpf = ulx.platform().prepare(top, name="top", **top.timing_constraints()).files["top.lpf"]
    assert 'LOCATE COMP "wifi_gpio0_0__io" SITE "L2";' in lpf
    assert 'FREQUENCY NET "clk" 75 MHz;' in lpf                 # constraints/ulx3s-85f.toml core_mhz 75: 25 x 3 / 1
    assert top.weights == "rom" and top.pll == dict(CLKI_DIV=1, CLKFB_DIV=3, CLKOP_DIV=8)
    assert top.link.divisor == 25                                  # 3 Mbaud exactly
    assert ulx.core_hz == top.pll_mhz * 1e6                        # the registry's clock is the PLL's real output


@pytest.mark.parametrize("name", BOARD_NAMES)
def test_boards_have_constraints(name):
    b = get_board(name)
    assert b.core_hz > 0 and b.baud == 3_000_000 and b.constraints["uart"]["resource"] == "uart"


@pytest.mark.parametrize("name", BOARD_NAMES)
def test_registry_record_matches_its_platform(name):
    """The nextpnr device flags name the platform's own device, and the platform class loads."""
    b = get_board(name)
    plat = b.platform()
    assert b.constraints_file.name == f"{name}.toml" and b.constraints_file.is_file()
    device = plat.device.lower()
    flag = b.nextpnr_device[0]
    if b.family == "ice40":
        assert device == "ice40up5k" and flag == "--up5k"
    else:
        assert device == f"lfe5u-{flag[2:-1]}f"
        assert b.nextpnr_device[1:] == ("--package", "CABGA381", "--speed", plat.speed)
    assert b.resources[0][0] == ("LC" if b.family == "ice40" else "LUT4")
    assert b.weights in ("rom", "ram") and b.lanes >= 1 and b.search >= 0


def test_cli_board_choices_come_from_the_registry():
    from ipvae.cli import build_parser
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "cmd")
    for cmd in ("synth", "sweep", "flow"):
        board = next(a for a in sub.choices[cmd]._actions if a.dest == "board")
        assert tuple(board.choices) == BOARD_NAMES, cmd


@pytest.mark.parametrize("name", BOARD_NAMES)
def test_committed_report_is_of_the_board_as_configured(name):
    """docs/synthesis/<board>.json describes the bitstream the board's record and constraints build
    today: its clock, lanes, weights, sampler, baud and model (a constraint changed without a
    rebuild fails here)."""
    board = get_board(name)
    r = json.loads((Path(__file__).resolve().parent.parent / "docs" / "synthesis" / f"{name}.json").read_text())
    assert r["clock"]["pll_mhz"] * 1e6 == pytest.approx(board.core_hz)
    assert (r["lanes"], r["weights"], r["baud"]) == (board.lanes, board.weights, board.baud)
    assert r["sampler"].startswith(f"search, {board.search} threshold")
    assert r["bundle"] == (board.bundle or "builtin:default")
    assert r.get("lateral_lanes", 0) == board.lateral_lanes
