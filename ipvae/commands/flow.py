"""The main job end to end: flow.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from ipvae.rtl.boards.registry import BOARD_NAMES  # pure Python

from .args import add_lanes, bundle_arg, out_dir, positive_int


def cmd_flow(a):
    from ipvae.flow import FlowConfig, run_flow
    run_flow(FlowConfig.create(a.out, a.board, lanes=a.lanes, bundle=a.bundle, retrain=a.retrain, samples=a.samples,
                               sim_samples=a.sim_samples, sim_iterations=a.sim_iterations,
                               seeds=tuple(range(1, a.seeds + 1))))


def register(sub):
    s = sub.add_parser("flow", help="the main job: bundle -> data -> golden model -> RTL co-simulation -> report")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the board's model: the paper bundle for "
                                                     "ulx3s-85f, the default bundle otherwise)")
    s.add_argument("--retrain", action="store_true", help="train a fresh default model first")
    s.add_argument("--out", type=out_dir, default="runs/flow", help="report folder")
    s.add_argument("--samples", type=positive_int, default=1000, help="held-out samples for the quality figures")
    s.add_argument("--sim-samples", type=positive_int, default=8, help="held-out samples co-simulated on the RTL")
    s.add_argument("--sim-iterations", type=positive_int, default=16)
    s.add_argument("--board", default="icebreaker", choices=BOARD_NAMES,
                   help="board to synthesise for (ulx3s-85f: about 20 min per seed on 2 cores)")
    add_lanes(s, "board")
    s.add_argument("--seeds", type=positive_int, default=3, help="nextpnr seeds: the Fmax distribution; the bitstream "
                                                                 "is the fastest")
    s.set_defaults(fn=cmd_flow)
