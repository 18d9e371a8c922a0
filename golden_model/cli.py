"""``ipvae``: the one console command. Subcommands: data, train, export, eval, baseline,
quant-sweep, rtl, latency, sim, flow. Errors the user can act on print one line and exit with status 2."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _ints(text):
    return tuple(int(v) for v in text.split(",") if v)


def _format_args(p):
    from .formats import Formats
    d = Formats()
    g = p.add_argument_group("fixed-point formats (docs/arithmetic.md)")
    g.add_argument("--weight-bits", type=int, default=d.weight_bits)
    g.add_argument("--u-bits", type=int, default=d.u_bits)
    g.add_argument("--input-bits", type=int, default=d.input_bits)
    g.add_argument("--input-int-bits", type=int, default=d.input_int_bits)
    g.add_argument("--count-bits", type=int, default=d.count_bits)
    g.add_argument("--prob-bits", type=int, default=d.prob_bits)
    g.add_argument("--sampler-frac", type=int, default=d.sampler_frac)


def _formats(a):
    from .formats import Formats
    return Formats(weight_bits=a.weight_bits, u_bits=a.u_bits, input_bits=a.input_bits,
                   input_int_bits=a.input_int_bits, count_bits=a.count_bits, prob_bits=a.prob_bits,
                   sampler_frac=a.sampler_frac)


def cmd_data(a):
    from .data import DataSpec, prepare
    spec = DataSpec(a.dataset, a.patch, a.n_train, a.n_valid, a.seed, a.path)
    ds = prepare(spec)
    print(f"train {ds.train.shape}, valid {ds.valid.shape}, sample shape {ds.shape}, "
          f"mean {ds.train.mean():.3f}, sd {ds.train.std():.3f}, |x| max {abs(ds.train).max():.2f}")
    if a.plot:
        from .plots import plot_samples
        plot_samples(ds.valid[:64], ds.shape, a.plot, "held-out samples")
        print(f"wrote {a.plot}")


def cmd_train(a):
    import torch
    from .config import get_config
    from .data import prepare
    from .errors import ParameterError
    from .evaluate import float_metrics, quick_val, runaway_check
    from .train import TrainingCollapsed, load_state, train
    torch.set_num_threads(a.threads)
    over = {k: v for k, v in dict(steps=a.steps, lr=a.lr, n_latents=a.latents, beta=a.beta, t_train=a.t_train,
                                  batch=a.batch, seed=a.seed, kl_anneal_min_samples=a.beta_ramp_samples).items()
            if v is not None}
    data_over = {k: v for k, v in dict(dataset=a.dataset, patch=a.patch, path=a.path).items() if v is not None}
    if a.resume:
        given = sorted(k for k in (*over, *data_over))
        if given or a.out or a.config:
            raise ParameterError("--resume continues a run with its own configuration and folder; "
                                 "drop " + ", ".join(["--config"] * bool(a.config) + ["--out"] * bool(a.out)
                                                     + [f"--{k}" for k in given]))
        _, cfg = load_state(a.resume)
        out = Path(a.resume)
    else:
        cfg = get_config(a.config or "default")
        if data_over:
            import dataclasses
            over["data"] = dataclasses.replace(cfg.data, **data_over)
        cfg = cfg.replace(**over)
        out = Path(a.out or f"runs/{cfg.name}")
    data = prepare(cfg.data)
    print(f"[train] config {cfg.name}: N={data.n_inputs} K={cfg.n_latents} T_train={cfg.t_train} "
          f"beta={cfg.beta} batch={cfg.batch} steps={cfg.steps} -> {out}", flush=True)
    model, hist = train(cfg, data, out_dir=out, eval_fn=quick_val(data.valid[:500]), resume=bool(a.resume),
                        checkpoint_minutes=a.checkpoint_minutes, max_minutes=a.max_minutes,
                        log=lambda s: print(s, flush=True))
    if "stopped_at" in hist:
        return
    print(f"[train] done in {hist['seconds']:.0f} s; evaluating on held-out samples")
    m = float_metrics(model, data.valid[:2000], (16, 64, 256))
    for t, v in m.items():
        print(f"  T={t:4d}: R2 {v['r2']:.3f}, zeros {v['zeros']:.3f}")
    print(f"  runaway check: {runaway_check(model, data.valid[:1000])}")
    print(f"checkpoint: {out / 'checkpoint.pt'}")
    if hist["collapse"] is not None:
        raise TrainingCollapsed(hist["collapse"]["message"] + f" (the checkpoint was written anyway: "
                                f"{out / 'checkpoint.pt'})")


def cmd_export(a):
    from .evaluate import metrics_table
    from .export import EVAL_TS, export
    b = export(a.checkpoint, a.out, _formats(a), a.samples, command="ipvae " + shlex.join(sys.argv[1:]))
    m = b.meta["metrics"]
    rows = [(k, {t: m[k][str(t)] for t in EVAL_TS}) for k in ("float", "float_capped", "fixed")]
    print(metrics_table(rows, EVAL_TS))


def cmd_eval(a):
    from . import bundle as bundle_mod
    from .data import prepare
    from .evaluate import fixed_metrics, float_metrics, metrics_table, runaway_check
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    x = data.valid[:a.samples]
    model = b.float_model()
    ts = _ints(a.t)
    t0 = time.time()
    fl = float_metrics(model, x, ts, seed=a.seed)
    t1 = time.time()
    fx = fixed_metrics(b.fixed, b.phi, x, ts, seed=a.seed, lanes=a.lanes)
    t2 = time.time()
    print(f"bundle {a.bundle or bundle_mod.DEFAULT_BUNDLE}: N={b.fixed.n_inputs} K={b.fixed.n_latents}, "
          f"{len(x)} held-out samples, seed {a.seed}, lanes {a.lanes}")
    print(metrics_table([("float (PyTorch)", fl), ("fixed (golden)", fx)], ts))
    print(f"(float {t1 - t0:.1f} s, golden {t2 - t1:.1f} s)")
    if a.runaway:
        print(f"runaway check: {runaway_check(model, x[:1000], t_max=a.runaway)}")


def cmd_baseline(a):
    from . import bundle as bundle_mod
    from .data import prepare
    from .lca import lca_sweep
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    rows = lca_sweep(data, b.fixed.n_latents, _floats(a.lambdas), seed=a.seed,
                     samples=b.meta["metrics"].get("samples", 2000))
    print("| lambda | R² | zeros |\n|---|---|---|")
    for r in rows:
        print(f"| {r['lambda']:.3f} | {r['r2']:.3f} | {r['zeros']:.3f} |")
    if a.write:
        from .model_report import write_model_report
        write_model_report(b, rows, a.write)
        print(f"wrote {a.write}")


def _floats(text):
    return tuple(float(v) for v in text.split(",") if v)


def cmd_quant_sweep(a):
    from .quant_study import run_study
    run_study(a.bundle, samples=a.samples, out_dir=Path(a.out))


def cmd_rtl(a):
    from rtl.generate import generate
    search = None if a.search == 0 else a.search
    v, j = generate(a.bundle, a.lanes, a.out, max_iterations=a.max_iterations, trace=a.trace, search=search)
    print(f"wrote {v} and {j}")


def cmd_latency(a):
    from . import bundle as bundle_mod
    from .data import prepare
    from rtl.latency import write_latency_doc
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    write_latency_doc(b, data.valid[:a.samples], a.write, iterations=a.iterations)
    print(Path(a.write).read_text())


def cmd_sim(a):
    from sim.regression import heldout_cases, run, summarise, table
    sims = ("icarus", "verilator") if a.sim == "both" else (a.sim,)
    cases = heldout_cases(a.bundle, a.samples, a.iterations, seed=a.seed)
    rows = []
    for sim in sims:
        print(f"[sim] {sim}: building and running {len(cases)} inferences (T={a.iterations}, P={a.lanes})",
              flush=True)
        res = run(sim, a.bundle, a.lanes, cases, a.build, search=None if a.search == 0 else a.search,
                  gap=a.gap, backpressure=a.backpressure)
        bad = [r for r in res["results"] if not r["bit_exact"]]
        for r in bad[:3]:
            print(f"[sim] MISMATCH {r['name']} (T={r['iterations']}, seed={r['seed']}): {r['divergence']}")
        rows.append(summarise(res))
    text = table(rows)
    print(text)
    if a.write:
        Path(a.write).write_text(
            "# Co-simulation throughput\n\n"
            f"`ipvae sim --sim {a.sim} --samples {a.samples} --iterations {a.iterations} --lanes {a.lanes} "
            f"--gap {a.gap} --backpressure {a.backpressure}`: the default core (with its trace port) on "
            "held-out patches, both simulators run side by side on the same machine (2-core CI-class). "
            "cocotb awaits every clock edge in Python; every inference's u and z per iteration, outputs "
            "and cycle count are checked against the golden model.\n\n" + text + "\n")
        print(f"wrote {a.write}")
    if any(r["bit_exact"] < r["samples"] for r in rows):
        from .errors import IpvaeError
        raise IpvaeError("co-simulation found mismatches (see above)")


def cmd_synth(a):
    from rtl.synth import synthesize
    if a.seeds is not None and a.seed is not None:
        from .errors import ParameterError
        raise ParameterError("give --seed S or --seeds N, not both")
    # default: seeds 1..3, and the bitstream from the fastest (one seed is a lucky or unlucky number)
    seeds = list(range(1, a.seeds + 1)) if a.seeds else ([a.seed] if a.seed else [1, 2, 3])
    report = synthesize(a.board, bundle=a.bundle, lanes=a.lanes, seeds=seeds, out_dir=a.out,
                        max_iterations=a.max_iterations, weights=a.weights, core_mhz=a.clock_mhz,
                        iterations=a.iterations, jobs=a.jobs, search=a.search)
    if a.record_baseline:
        from rtl.synth import BASELINES, record_baseline
        record_baseline(report)
        print(f"recorded the baseline in {BASELINES}")


def cmd_sweep(a):
    from rtl.sweep import run_sweep

    def ints(text, what):
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            from .errors import ParameterError
            raise ParameterError(f"{what} must be comma-separated integers, got {text!r}") from None
    run_sweep(a.board, ints(a.lanes, "--lanes"), ints(a.weight_bits, "--weight-bits"), bundle=a.bundle, out=a.out,
              jobs=a.jobs, seeds=list(range(1, a.seeds + 1)), samples=a.samples,
              log=lambda s: print(s, flush=True))


def cmd_bench(a):
    from .bench import run_bench
    run_bench(a)


def cmd_host(a):
    from host.client import run_host
    run_host(a)


def cmd_flow(a):
    from .flow import run_flow
    run_flow(a)


def build_parser():
    from rtl.cycle_model import DEFAULT_SEARCH   # pure Python: no HDL import at start-up
    p = argparse.ArgumentParser(prog="ipvae", description="iP-VAE on FPGA: model, golden model, hardware flow")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("data", help="prepare (and cache) a dataset, print its statistics")
    s.add_argument("--dataset", default="photos", help="photos | mnist | digits8 | file | folder")
    s.add_argument("--patch", type=int, default=8)
    s.add_argument("--path", help="for --dataset file (.npy/.npz) or folder (images)")
    s.add_argument("--n-train", type=int, default=60_000)
    s.add_argument("--n-valid", type=int, default=5_000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--plot", help="write a PNG of held-out samples")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("train", help="train the float iP-VAE (BPTT)")
    s.add_argument("--config", help="default | paper-cpu | paper (default: default)")
    s.add_argument("--out", help="output folder (default runs/<config>)")
    s.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its last state")
    s.add_argument("--max-minutes", type=float, help="stop after this long, state saved, to be resumed")
    s.add_argument("--checkpoint-minutes", type=float, default=5.0, help="save the resumable state this often")
    s.add_argument("--beta-ramp-samples", type=int, help="beta ramps over at least this many samples")
    s.add_argument("--steps", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--latents", type=int)
    s.add_argument("--beta", type=float)
    s.add_argument("--t-train", type=int)
    s.add_argument("--batch", type=int)
    s.add_argument("--seed", type=int)
    s.add_argument("--dataset")
    s.add_argument("--patch", type=int)
    s.add_argument("--path")
    s.add_argument("--threads", type=int, default=2)
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("export", help="fold a checkpoint into a fixed-point bundle, evaluate both")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--samples", type=int, default=2000)
    _format_args(s)
    s.set_defaults(fn=cmd_export)

    s = sub.add_parser("eval", help="float vs fixed-point quality of a bundle on held-out data")
    s.add_argument("--bundle", help="bundle folder (default: the committed default bundle)")
    s.add_argument("--samples", type=int, default=2000)
    s.add_argument("--t", default="16,64,256", help="iteration counts, comma separated")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--lanes", type=int, default=1)
    s.add_argument("--runaway", type=int, default=1000, help="runaway check horizon (0: skip)")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("baseline", help="LCA sparse-coding baseline on the bundle's data")
    s.add_argument("--bundle")
    s.add_argument("--lambdas", default="0.3,0.5,0.7,0.9,1.1,1.3,1.6")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--write", help="also write the default-model report (e.g. docs/default_model.md)")
    s.set_defaults(fn=cmd_baseline)

    s = sub.add_parser("quant-sweep", help="sweep weight/membrane/input widths; table + plot")
    s.add_argument("--bundle")
    s.add_argument("--samples", type=int, default=2000)
    s.add_argument("--out", default="docs")
    s.set_defaults(fn=cmd_quant_sweep)

    s = sub.add_parser("rtl", help="write the core's Verilog and a JSON of its parameters")
    s.add_argument("--bundle", help="bundle folder (default: the committed default bundle)")
    s.add_argument("--lanes", type=int, default=8, help="parallel lanes P (must divide K)")
    s.add_argument("--max-iterations", type=int, default=1023)
    s.add_argument("--trace", action="store_true", help="include the per-iteration trace stream")
    s.add_argument("--search", type=int, default=DEFAULT_SEARCH,
                   help="Poisson-table thresholds the sampler reads per cycle (divides 16); 0: parallel sampler")
    s.add_argument("--out", default="build/rtl")
    s.set_defaults(fn=cmd_rtl)

    s = sub.add_parser("sim", help="cocotb co-simulation regression of the generated Verilog")
    s.add_argument("--sim", default="verilator", choices=("icarus", "verilator", "both"))
    s.add_argument("--bundle")
    s.add_argument("--samples", type=int, default=20)
    s.add_argument("--iterations", type=int, default=16)
    s.add_argument("--lanes", type=int, default=16)
    s.add_argument("--search", type=int, default=DEFAULT_SEARCH, help="sampler thresholds per cycle; 0: parallel")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--gap", type=float, default=0.0, help="probability of an idle input cycle")
    s.add_argument("--backpressure", type=float, default=0.0, help="probability of an output stall")
    s.add_argument("--build", default="sim_build")
    s.add_argument("--write", help="also write the summary as Markdown (e.g. docs/cosim.md)")
    s.set_defaults(fn=cmd_sim)

    s = sub.add_parser("latency", help="cycle-model latency and memory tables (docs/latency.md)")
    s.add_argument("--bundle")
    s.add_argument("--samples", type=int, default=200)
    s.add_argument("--iterations", type=int, default=32)
    s.add_argument("--write", default="docs/latency.md")
    s.set_defaults(fn=cmd_latency)

    s = sub.add_parser("synth", help="board top -> Yosys -> nextpnr (per seed) -> bitstream + report")
    s.add_argument("--board", required=True, choices=("icebreaker", "ulx3s-85f"))
    s.add_argument("--bundle", help="bundle folder, or random:NxK for untrained weights of that size "
                                    "(default: the committed default bundle)")
    s.add_argument("--lanes", type=int, help="parallel lanes P (default: 4 on icebreaker, 32 on ulx3s-85f)")
    s.add_argument("--seed", type=int, help="one nextpnr seed (default: seeds 1..3)")
    s.add_argument("--seeds", type=int, help="seed sweep: seeds 1..N, the Fmax distribution in the report")
    s.add_argument("--jobs", type=int, help="nextpnr runs at a time (default: the CPU count)")
    s.add_argument("--weights", choices=("rom", "ram"), help="F and W in bitstream ROM or loaded over the UART "
                                                           "(default: ram on icebreaker (SPRAM), rom on ulx3s-85f)")
    s.add_argument("--clock-mhz", type=float, help="core clock (default: constraints/<board>.toml)")
    s.add_argument("--max-iterations", type=int, default=1023)
    s.add_argument("--iterations", type=int, default=32, help="T for the latency figures")
    s.add_argument("--search", type=int, help="sampler thresholds per cycle; 0: parallel sampler "
                                          "(default: the board's, rtl/boards.py)")
    s.add_argument("--out", help="output folder (default runs/synth/<board>)")
    s.add_argument("--record-baseline", action="store_true",
                   help="store resources and Fmax as the baseline for these tool versions (tests/baselines)")
    s.set_defaults(fn=cmd_synth)

    s = sub.add_parser("sweep", help="lanes x weight widths: golden-model quality, cycle model and synthesis per "
                                      "point (parallel, cached); Pareto plot")
    s.add_argument("--board", default="icebreaker", choices=("icebreaker", "ulx3s-85f"))
    s.add_argument("--lanes", default="1,2,4,8", help="comma-separated lane counts")
    s.add_argument("--weight-bits", default="6,8,10", help="comma-separated weight widths")
    s.add_argument("--bundle", help="bundle folder (default: the committed default bundle)")
    s.add_argument("--seeds", type=int, default=1, help="nextpnr seeds per point")
    s.add_argument("--samples", type=int, default=300, help="held-out patches for the quality figures")
    s.add_argument("--jobs", type=int, help="points at a time (default: the CPU count)")
    s.add_argument("--out", default="runs/sweep")
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("bench", help="FPGA vs NumPy vs PyTorch latency, co-simulation and training speed "
                                      "(docs/benchmarks.md)")
    s.add_argument("--bundle")
    s.add_argument("--reports", nargs="*", default=["docs/synthesis/icebreaker.json", "docs/synthesis/ulx3s-85f.json"],
                   help="synthesis reports whose Fmax sets the FPGA rows")
    s.add_argument("--build", default="sim_build")
    s.add_argument("--write", default="docs/benchmarks.md")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("host", help="stream inputs to a board over its UART and print the results")
    s.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB1 (iCEBreaker: the second FTDI channel)")
    s.add_argument("--baud", type=int, default=115200)
    s.add_argument("--bundle", help="the bundle the board was built from (default: the committed default)")
    s.add_argument("--samples", type=int, default=10, help="held-out patches to send")
    s.add_argument("--iterations", type=int, default=32)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--lanes", type=int, help="lanes the board was built with (checked against INFO)")
    s.add_argument("--with-u", action="store_true", help="ask for the final u as well as z")
    s.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    s.set_defaults(fn=cmd_host)

    s = sub.add_parser("flow", help="the main job: bundle -> data -> golden model -> RTL co-simulation -> report")
    s.add_argument("--bundle", help="bundle folder (default: the committed default bundle)")
    s.add_argument("--retrain", action="store_true", help="train a fresh default model first")
    s.add_argument("--out", default="runs/flow", help="report folder")
    s.add_argument("--samples", type=int, default=1000, help="held-out samples for the quality figures")
    s.add_argument("--sim-samples", type=int, default=8, help="held-out samples co-simulated on the RTL")
    s.add_argument("--sim-iterations", type=int, default=16)
    s.add_argument("--board", default="icebreaker", choices=("icebreaker", "ulx3s-85f"),
                   help="board to synthesise for (ulx3s-85f: about 20 min per seed on 2 cores)")
    s.add_argument("--lanes", type=int, help="lanes P (default: the board's)")
    s.add_argument("--seeds", type=int, default=3, help="nextpnr seeds: the Fmax distribution; the bitstream is the fastest")
    s.set_defaults(fn=cmd_flow)
    return p


def main(argv=None):
    from .errors import IpvaeError
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except IpvaeError as exc:
        print(f"ipvae {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
