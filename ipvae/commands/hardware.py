"""Hardware commands: rtl, latency, synth, sweep.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from pathlib import Path

from ipvae.cluster import CLUSTER_HELP
from ipvae.rtl.boards.registry import BOARD_NAMES, BOARDS  # pure Python, no HDL import at start-up

from .args import (
    add_lanes,
    add_search,
    bundle_arg,
    cluster_spec,
    nonneg_int,
    out_dir,
    out_file,
    positive_float,
    positive_floats,
    positive_int,
    positive_ints,
    prepare_parent,
)


def cmd_rtl(a):
    from ipvae.rtl.core.verilog_export import generate
    v, j = generate(a.bundle, a.lanes, a.out, max_iterations=a.max_iterations, trace=a.trace, search=a.search)
    print(f"wrote {v} and {j}")


def cmd_ip(a):
    from ipvae.ip import write_ip
    paths = write_ip(a.bundle, a.lanes, a.out, search=a.search,
                     max_iterations=a.max_iterations, weights=a.weights, resources=a.resources,
                     log=lambda s: print(s, flush=True), lateral_lanes=a.lateral_lanes)
    print("wrote " + ", ".join(str(p) for p in paths))


def cmd_latency(a):
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import heldout, prepare
    from ipvae.latency import write_latency_doc
    from ipvae.rtl.boards.registry import get_board
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    prepare_parent(a.write)
    ecp5 = None
    shipped = bundle_mod.builtin_spec(get_board("ulx3s-85f").bundle)
    if shipped is not None:                     # the board's trained model: its own spikes
        eb = bundle_mod.load(shipped)
        ecp5 = (eb, heldout(prepare(eb.data_spec()), a.samples))
    write_latency_doc(b, heldout(data, a.samples), a.write, iterations=a.iterations, ecp5=ecp5)
    print(Path(a.write).read_text())


def cmd_synth(a):
    from ipvae.synth import synthesize
    if a.seeds is not None and a.seed is not None:
        from ipvae.golden_model.errors import ParameterError
        raise ParameterError("give --seed S or --seeds N, not both")
    # default: seeds 1..3, and the bitstream from the fastest (one seed is a lucky or unlucky number)
    seeds = list(range(1, a.seeds + 1)) if a.seeds else ([a.seed] if a.seed else [1, 2, 3])
    report = synthesize(a.board, bundle=a.bundle, lanes=a.lanes, seeds=seeds, out_dir=a.out,
                        max_iterations=a.max_iterations, weights=a.weights, core_mhz=a.clock_mhz,
                        iterations=a.iterations, jobs=a.jobs, search=a.search, lateral_lanes=a.lateral_lanes,
                        cluster=a.cluster)
    if a.record_baseline:
        from ipvae.synth import BASELINES, record_baseline
        record_baseline(report)
        print(f"recorded the baseline in {BASELINES}")


def cmd_sweep(a):
    from ipvae.sweep import run_sweep

    run_sweep(a.board, list(a.lanes), list(a.weight_bits), bundle=a.bundle, out=a.out,
              jobs=a.jobs, seeds=list(range(1, a.seeds + 1)), samples=a.samples, clocks=a.clock_mhz or [None],
              log=lambda s: print(s, flush=True), cluster=a.cluster)


def cmd_probe(a):
    from ipvae.probe import run_probe
    report = run_probe(a.board, bundle=a.bundle, lanes=a.lanes, seeds=range(1, a.seeds + 1), core_mhz=a.clock_mhz,
                       out_dir=a.out, tile_lanes=a.tile_lanes, drive_parts=a.drive_parts, jobs=a.jobs)
    if a.write:
        from ipvae.probe import write_probe_doc
        print(f"wrote {write_probe_doc(report, a.write)}")


def cmd_formal(a):
    from ipvae.formal import formal_table, run_formal
    from ipvae.golden_model.errors import IpvaeError
    records = run_formal(a.block, a.out, mode="bmc" if a.bmc else None, depth=a.depth)
    print(formal_table(records))
    wrong = [r for r in records if r["result"] != r["expected"]]
    if wrong:
        raise IpvaeError("formal: " + "; ".join(f"{r['block']}{' (negative control)' if r['mutant'] else ''} "
                                                f"{r['result']}, expected {r['expected']}" for r in wrong))


def _board_defaults(attr):
    return ", ".join(f"{getattr(b, attr)} on {name}" for name, b in BOARDS.items())


def register(sub):
    s = sub.add_parser("rtl", help="write the core's Verilog and a JSON of its parameters")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the committed default bundle)")
    add_lanes(s, "core")
    s.add_argument("--max-iterations", type=positive_int, default=1023)
    s.add_argument("--trace", action="store_true", help="include the per-iteration trace stream")
    add_search(s)
    s.add_argument("--out", type=out_dir, default="build/rtl")
    s.set_defaults(fn=cmd_rtl)

    s = sub.add_parser("ip", help="the core as portable IP: AXI4-Stream Verilog, parameters, FuseSoC core, README")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the committed default bundle)")
    add_lanes(s, "core")
    s.add_argument("--max-iterations", type=positive_int, default=1023)
    add_search(s)
    s.add_argument("--weights", choices=("rom", "ram"), default="rom",
                   help="F and W as initialised block RAM (rom), or loaded at run time over w_axis (ram)")
    s.add_argument("--resources", action="store_true",
                   help="synthesise the IP with Yosys for iCE40 UP5K and ECP5 and add the cell counts to its README")
    s.add_argument("--lateral-lanes", type=nonneg_int, default=0,
                   help="0: the fused-lane core; L: the array core with L lateral lanes and --lanes sampler units "
                        "(weights rom)")
    s.add_argument("--out", type=out_dir, default="build/ip")
    s.set_defaults(fn=cmd_ip)

    s = sub.add_parser("latency", help="cycle-model latency and memory tables (docs/latency.md)")
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--samples", type=positive_int, default=200)
    s.add_argument("--iterations", type=positive_int, default=32)
    s.add_argument("--write", type=out_file, default="docs/latency.md")
    s.set_defaults(fn=cmd_latency)

    s = sub.add_parser("synth", help="board top -> Yosys -> nextpnr (per seed) -> bitstream + report")
    s.add_argument("--board", required=True, choices=BOARD_NAMES)
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder, or random:NxK for untrained weights of that size "
                                    "(default: the committed default bundle)")
    add_lanes(s, "board", "parallel lanes P (default: the board's, " + _board_defaults("lanes") + ")")
    s.add_argument("--seed", type=positive_int, help="one nextpnr seed (default: seeds 1..3)")
    s.add_argument("--seeds", type=positive_int, help="seed sweep: seeds 1..N, the Fmax distribution in the report")
    s.add_argument("--jobs", type=positive_int, help="nextpnr runs at a time (default: the CPU count)")
    s.add_argument("--cluster", type=cluster_spec,
                   help="run each nextpnr seed as a Dask task (default: threads of this process): " + CLUSTER_HELP)
    s.add_argument("--weights", choices=("rom", "ram"), help="F and W in bitstream ROM or loaded over the UART "
                                                           "(default: the board's, " + _board_defaults("weights") + ")")
    s.add_argument("--clock-mhz", type=positive_float, help="core clock (default: constraints/<board>.toml)")
    s.add_argument("--max-iterations", type=positive_int, default=1023)
    s.add_argument("--iterations", type=positive_int, default=32, help="T for the latency figures")
    add_search(s, board=True)
    s.add_argument("--lateral-lanes", type=nonneg_int,
                   help="0: the fused-lane core; L: the array core with L lateral lanes and --lanes sampler units "
                        "(default: the board's)")
    s.add_argument("--out", type=out_dir, help="output folder (default runs/synth/<board>)")
    s.add_argument("--record-baseline", action="store_true",
                   help="store resources and Fmax as the baseline for these tool versions (tests/baselines)")
    s.set_defaults(fn=cmd_synth)

    s = sub.add_parser("sweep", help="lanes x weight widths x core clocks: golden-model quality, cycle model and "
                                      "synthesis per point (parallel, cached); Pareto plot")
    s.add_argument("--board", default="icebreaker", choices=BOARD_NAMES)
    s.add_argument("--lanes", type=positive_ints, default="1,2,4,8", help="comma-separated lane counts")
    s.add_argument("--weight-bits", type=positive_ints, default="6,8,10", help="comma-separated weight widths")
    s.add_argument("--clock-mhz", type=positive_floats,
                   help="comma-separated core clocks to build at (default: the board's, constraints/<board>.toml)")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the board's)")
    s.add_argument("--seeds", type=positive_int, default=1, help="nextpnr seeds per point")
    s.add_argument("--samples", type=positive_int, default=300, help="held-out patches for the quality figures")
    s.add_argument("--jobs", type=positive_int, help="local worker processes: points at a time (default: the CPU "
                                                       "count)")
    s.add_argument("--cluster", type=cluster_spec, default="local", help=CLUSTER_HELP)
    s.add_argument("--out", type=out_dir, default="runs/sweep")
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("probe", help="the neuron-parallel lateral engine alone on an ECP5 board: LUT4 and flip-flops "
                                      "per lane, Fmax over seeds (measure before rebuilding the core)")
    s.add_argument("--board", default="ulx3s-85f", choices=[n for n, b in BOARDS.items() if b.family == "ecp5"])
    s.add_argument("--bundle", type=bundle_arg, help="bundle whose W the array holds (default: the board's)")
    add_lanes(s, "board", "lateral lanes L (must divide K; default K: one neuron per lane)")
    s.add_argument("--tile-lanes", type=positive_int, default=36,
                   help="lanes per block-RAM tile (36: eight 512 x 36 DP16KD for 8-bit weights)")
    s.add_argument("--drive-parts", type=nonneg_int, default=2,
                   help="words per column of F in the tiles (2: as the array core builds it; 0: W alone)")
    s.add_argument("--clock-mhz", type=positive_float, default=100.0, help="clock to constrain")
    s.add_argument("--seeds", type=positive_int, default=3, help="nextpnr seeds 1..N")
    s.add_argument("--jobs", type=positive_int, help="nextpnr runs at a time (default: the CPU count)")
    s.add_argument("--out", type=out_dir, help="build folder (default runs/probe/<board>-L<lanes>)")
    s.add_argument("--write", type=out_dir, help="also copy the report (JSON and Markdown) into this folder "
                                               "(docs/probe)")
    s.set_defaults(fn=cmd_probe)

    s = sub.add_parser("formal", help="formal proofs of the stream contracts (SymbiYosys) and their negative controls")
    s.add_argument("--block", action="append", help="one block, e.g. skid_buffer (repeatable; default: all)")
    s.add_argument("--depth", type=positive_int,
                   help="induction / BMC depth (default: each proof's own, 20 for k-induction)")
    s.add_argument("--bmc", action="store_true", help="bounded model check to --depth instead of an unbounded proof")
    s.add_argument("--out", type=out_dir, default="runs/formal")
    s.set_defaults(fn=cmd_formal)
