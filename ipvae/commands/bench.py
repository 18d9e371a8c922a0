"""Benchmarks: bench, cluster-bench.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from ipvae.rtl.boards.registry import BOARD_NAMES

from .args import bundle_arg, in_path, out_dir, out_file, positive_int, positive_ints


def cmd_bench(a):
    from ipvae.bench import BenchConfig, run_bench
    run_bench(BenchConfig(bundle=a.bundle, reports=tuple(a.reports), build=a.build, write=a.write))


def cmd_cluster_bench(a):
    from ipvae.cluster_bench import run_scaling
    run_scaling(a.board, lanes=list(a.lanes), bundle=a.bundle, out=a.out, samples=a.samples,
                log=lambda s: print(s, flush=True), write=a.write)


def register(sub):
    s = sub.add_parser("bench", help="FPGA vs NumPy vs PyTorch latency, co-simulation and training speed "
                                      "(docs/benchmarks.md)")
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--reports", nargs="*", type=in_path,
                   default=[f"docs/synthesis/{name}.json" for name in BOARD_NAMES],
                   help="synthesis reports whose Fmax sets the FPGA rows")
    s.add_argument("--build", type=out_dir, default="sim_build")
    s.add_argument("--write", type=out_file, default="docs/benchmarks.md")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("cluster-bench", help="one sweep on a process pool of 2 and on Dask LocalClusters of 1 and 2 "
                                              "workers, the time on N workers projected (docs/cluster_scaling.json)")
    s.add_argument("--board", default="icebreaker")
    s.add_argument("--lanes", type=positive_ints, default="1,2,4,8", help="the sweep's lane counts")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the board's)")
    s.add_argument("--samples", type=positive_int, default=300, help="held-out patches per point")
    s.add_argument("--out", type=out_dir, default="runs/cluster_bench")
    s.add_argument("--write", type=out_file, default="docs/cluster_scaling.json")
    s.set_defaults(fn=cmd_cluster_bench)
