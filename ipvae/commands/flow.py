"""The main job end to end: flow.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from ipvae.rtl.board_registry import BOARD_NAMES  # pure Python


def cmd_flow(a):
    from ipvae.flow import run_flow
    run_flow(a)


def register(sub):
    s = sub.add_parser("flow", help="the main job: bundle -> data -> golden model -> RTL co-simulation -> report")
    s.add_argument("--bundle", help="bundle folder (default: the committed default bundle)")
    s.add_argument("--retrain", action="store_true", help="train a fresh default model first")
    s.add_argument("--out", default="runs/flow", help="report folder")
    s.add_argument("--samples", type=int, default=1000, help="held-out samples for the quality figures")
    s.add_argument("--sim-samples", type=int, default=8, help="held-out samples co-simulated on the RTL")
    s.add_argument("--sim-iterations", type=int, default=16)
    s.add_argument("--board", default="icebreaker", choices=BOARD_NAMES,
                   help="board to synthesise for (ulx3s-85f: about 20 min per seed on 2 cores)")
    s.add_argument("--lanes", type=int, help="lanes P (default: the board's)")
    s.add_argument("--seeds", type=int, default=3, help="nextpnr seeds: the Fmax distribution; the bitstream is the fastest")
    s.set_defaults(fn=cmd_flow)
