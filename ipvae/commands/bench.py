"""Benchmarks: bench.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from .args import bundle_arg, in_path, out_dir, out_file


def cmd_bench(a):
    from ipvae.bench import BenchConfig, run_bench
    run_bench(BenchConfig(bundle=a.bundle, reports=tuple(a.reports), build=a.build, write=a.write))


def register(sub):
    s = sub.add_parser("bench", help="FPGA vs NumPy vs PyTorch latency, co-simulation and training speed "
                                      "(docs/benchmarks.md)")
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--reports", nargs="*", type=in_path,
                   default=[f"docs/synthesis/{name}.json" for name in ("icebreaker", "ulx3s-85f")],
                   help="synthesis reports whose Fmax sets the FPGA rows")
    s.add_argument("--build", type=out_dir, default="sim_build")
    s.add_argument("--write", type=out_file, default="docs/benchmarks.md")
    s.set_defaults(fn=cmd_bench)
