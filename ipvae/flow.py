"""``ipvae flow``: the main job, end to end on the built-in default.

Stages: bundle (committed default, or --retrain) -> held-out data -> golden-model and float-model
evaluation -> RTL co-simulation on Verilator -> synthesis for a board (YoWASP Yosys + nextpnr)
-> report (Markdown + PNG plots in one folder per run). Re-runs reuse what is unchanged: the
data cache, the co-simulation build (keyed by its Verilog) and the synthesis (keyed by its
design, constraints, seeds and tools).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

CURVE_TS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _stage(n, total, text):
    print(f"\n== [{n}/{total}] {text}", flush=True)


def run_flow(a):
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model import plots
    from ipvae.golden_model.data import heldout, prepare
    from ipvae.golden_model.evaluate import fixed_metrics, float_metrics, metrics_table, runaway_check
    from ipvae.golden_model.formats import encode_input
    from ipvae.golden_model.golden import trace_one
    from ipvae.rtl.boards.top import get_board
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 6
    t_start = time.time()
    board = get_board(a.board)
    lanes = a.lanes or board.lanes
    timings = {}

    _stage(1, total, "bundle")
    bundle_path = a.bundle
    if bundle_path is None and not a.retrain:
        bundle_path = bundle_mod.builtin_spec(board.bundle)     # the board's own model, when it ships one
    if a.retrain:
        import torch

        from ipvae.golden_model.config import get_config
        from ipvae.golden_model.export import export
        from ipvae.golden_model.formats import Formats
        from ipvae.golden_model.train import train
        torch.set_num_threads(2)
        cfg = get_config("default")
        data = prepare(cfg.data)
        train(cfg, data, out_dir=out / "train")
        bundle_path = out / "bundle"
        export(out / "train" / "checkpoint.pt", bundle_path, Formats(), command="ipvae flow --retrain")
    b = bundle_mod.load(bundle_path)
    print(f"bundle {bundle_path or bundle_mod.DEFAULT_BUNDLE}: N={b.fixed.n_inputs} K={b.fixed.n_latents}, "
          f"formats {b.fmt.to_dict()}")

    _stage(2, total, "data (held-out samples)")
    data = prepare(b.data_spec())
    x = heldout(data, a.samples)
    shape = tuple(b.meta["dims"].get("sample_shape") or data.shape)

    _stage(3, total, f"golden model vs float model on {len(x)} held-out samples, T up to {max(CURVE_TS)}")
    model = b.float_model()
    fl = float_metrics(model, x, CURVE_TS)
    fx = fixed_metrics(b.fixed, b.phi, x, CURVE_TS)
    table = metrics_table([("float (PyTorch)", fl), ("fixed (golden model)", fx)], (16, 64, 256))
    print(table)
    run = runaway_check(model, x[:500])
    print(f"runaway check (float, T={run['t']}): {run['runaway_fraction']:.3%} of inputs, "
          f"u max {run['u_max']:.2f}, count max {run['count_max']}")

    timings["bundle, data, evaluation"] = time.time() - t_start
    t0 = time.time()
    _stage(4, total, f"RTL and co-simulation (Verilator, {a.sim_samples} held-out patches, T={a.sim_iterations}, "
                     f"P={lanes}, sampler W={board.search})")
    from ipvae.sim.regression import heldout_cases, summarise
    from ipvae.sim.regression import run as cosim
    from ipvae.sim.regression import table as sim_table
    cases = heldout_cases(bundle_path, a.sim_samples, a.sim_iterations)
    res = cosim("verilator", bundle_path, lanes, cases, out / "sim_build", gap=0.2, backpressure=0.2,
                search=board.search, log=lambda s: print(s, flush=True))
    sim_row = summarise(res)
    sim_md = sim_table([sim_row])
    print(sim_md)
    if sim_row["bit_exact"] != sim_row["samples"]:
        bad = next(r for r in res["results"] if not r["bit_exact"])
        print(f"MISMATCH {bad['name']}: {bad['divergence']}")
    rtl_z = np.array([r["z_out"] for r in res["results"]])
    timings["co-simulation"] = time.time() - t0

    t0 = time.time()
    seeds = list(range(1, a.seeds + 1))
    _stage(5, total, f"synthesis for {board.platform_name}: P={lanes}, nextpnr seeds {seeds}")
    from ipvae.synth import synthesize
    synth = synthesize(a.board, bundle=bundle_path, lanes=lanes, seeds=seeds, out_dir=out / f"synth_{a.board}")
    timings["synthesis"] = time.time() - t0

    _stage(6, total, f"report -> {out}")
    from ipvae.golden_model.golden import run as golden_run
    from ipvae.rtl.core import cycle_model
    T_LAT = synth["cycles"]["iterations"]
    lat_x = x[:64]
    lat_codes, _ = encode_input(lat_x, b.fmt)
    lat = golden_run(b.fixed, lat_codes, T_LAT, (7 + np.arange(len(lat_codes))) % (1 << 32), lanes=lanes, trace=True)
    spikes, iter_cycles = [], []
    for i in range(len(lat_codes)):
        zp = [lat["z"][t][i] for t in range(T_LAT + 1)]
        per = cycle_model.iteration_cycles(b.fixed.n_latents, lanes, T_LAT, zp, board.search)
        spikes += [int(np.count_nonzero(zp[t])) for t in range(T_LAT)]
        iter_cycles += per[:T_LAT]
    plots.plot_cycles_per_iteration(spikes, iter_cycles, b.fixed.n_latents // lanes, out / "cycles_per_iteration.png",
                                    f"cycle model (= RTL, asserted in the tests), P={lanes}, T={T_LAT}, "
                                    f"{len(lat_codes)} held-out patches")
    plots.plot_dictionary(b.phi, shape, out / "dictionary.png")
    codes, _ = encode_input(x[:10], b.fmt)
    ts = a.sim_iterations
    nrec = min(10, len(rtl_z))
    g = golden_run(b.fixed, codes[:nrec], ts, [c["seed"] for c in cases[:nrec]], lanes=lanes, record=[ts])
    f = model.infer(x[:nrec], ts, seed=0, record=(ts,))[ts][1].numpy()
    plots.plot_reconstructions([("input", x[:nrec]), (f"float T={ts}", f @ b.phi.T),
                                (f"golden T={ts}", g["z"][ts] @ b.phi.T),
                                (f"RTL T={ts}", rtl_z[:nrec] @ b.phi.T)], shape, out / "reconstructions.png", n=nrec)
    tr = trace_one(b.fixed, codes[0], 64, seed=0)
    plots.plot_raster(tr["z"], out / "raster.png")
    plots.plot_curves({"float": fl, "fixed (golden)": fx}, out / "curves.png")
    timings["report"] = time.time() - t0 - timings["synthesis"]
    util = synth["utilization"]
    fm = synth["fmax_mhz"]
    best_fmax = max(r["core_fmax_mhz"] for r in synth["seeds"])
    bitstream_ok = best_fmax >= synth["clock"]["pll_mhz"]
    # the bitstream's clock when it meets timing; otherwise the clock it would need to run at
    run_mhz = synth["clock"]["pll_mhz"] if bitstream_ok else best_fmax
    latency_us = synth["cycles"]["median"] / run_mhz
    summary = dict(bundle=str(bundle_path or bundle_mod.DEFAULT_BUNDLE), samples=len(x), cosim=sim_row,
                   float={str(t): v for t, v in fl.items()}, fixed={str(t): v for t, v in fx.items()},
                   runaway=run, spiking_per_iteration=tr["spiking"].tolist(), board=a.board, lanes=lanes,
                   synthesis=dict(utilization=util, fmax_mhz=fm, clock_mhz=synth["clock"]["pll_mhz"],
                                  bitstream_timing_met=bitstream_ok, report=str(out / f"synth_{a.board}")),
                   cycles=synth["cycles"], latency_us=latency_us, stage_seconds=timings,
                   seconds=time.time() - t_start)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "report.md").write_text("\n".join([
        "# ipvae flow report", "",
        f"Bundle: `{summary['bundle']}` (N={b.fixed.n_inputs}, K={b.fixed.n_latents}); "
        f"{len(x)} held-out samples.", "",
        "## Quality: float model vs integer golden model", "", table, "",
        f"Runaway check (float model, T={run['t']}, {run['samples']} inputs): "
        f"{run['runaway_fraction']:.3%} ran away; u max {run['u_max']:.2f}; largest count {run['count_max']}.", "",
        "![R² and zeros against iterations](curves.png)", "",
        f"## RTL co-simulation (Verilator, P={lanes}, T={a.sim_iterations}, random input gaps and output stalls)", "",
        "Every iteration's u and z, the outputs and the cycle count are compared with the golden model.", "",
        sim_md, "",
        f"## Synthesis: {board.platform_name}", "",
        f"P={lanes} lanes, {synth['weights']} weights, core clock {synth['clock']['pll_mhz']:g} MHz target; "
        f"full report: [synth_{a.board}/report.md](synth_{a.board}/report.md).", "",
        "| resource | used | available |", "|---|---|---|",
        *[f"| {k} | {v['used']} | {v['available']} |" for k, v in util.items()], "",
        f"Fmax (min / median / max over {len(synth['seeds'])} seed(s)): {fm['min']:.1f} / {fm['median']:.1f} / "
        f"{fm['max']:.1f} MHz; the bitstream (seed {synth['best_seed']}, "
        f"{max(r['core_fmax_mhz'] for r in synth['seeds']):.1f} MHz) "
        f"{'meets' if bitstream_ok else 'does NOT meet'} its {synth['clock']['pll_mhz']:g} MHz clock.", "",
        "## Latency per inference", "",
        f"T={T_LAT}, {synth['cycles']['source']}: {synth['cycles']['median']:.0f} cycles median "
        f"({synth['cycles']['min']} .. {synth['cycles']['max']}), exact by the cycle model "
        "(asserted against RTL simulation in the tests; the co-simulated runs above match it cycle for cycle).", "",
        f"**{latency_us:.0f} µs per inference** at {run_mhz:.1f} MHz "
        + ("(the bitstream's clock, timing met)." if bitstream_ok else
           f"(the bitstream's Fmax: it misses its {synth['clock']['pll_mhz']:g} MHz clock).") + "", "",
        "![cycles per iteration against spikes](cycles_per_iteration.png)", "",
        "## The core as IP for other flows", "",
        f"`ipvae ip --bundle {summary['bundle']} --lanes {lanes} --out ip` writes this model's core behind AXI4-Stream "
        "ports (one Verilog file with `$readmemh` memory images, a self-checking testbench, a FuseSoC core with "
        "Icarus and Verilator simulation targets, and a README with the port table and transfer rules).", "",
        "## Dictionary", "", "![dictionary](dictionary.png)", "",
        "## Reconstructions", "", "![reconstructions](reconstructions.png)", "",
        "## Spikes of one input (golden model, seed 0)", "", "![raster](raster.png)", "",
        f"Spiking neurons per iteration: {tr['spiking'].tolist()}", "",
        "## Stage times", "", "| stage | s |", "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in timings.items()], "",
    ]))
    print(f"\n== summary ({time.time() - t_start:.0f} s)")
    print(f"quality   R² T=16/64/256: float {fl[16]['r2']:.3f}/{fl[64]['r2']:.3f}/{fl[256]['r2']:.3f}, "
          f"golden {fx[16]['r2']:.3f}/{fx[64]['r2']:.3f}/{fx[256]['r2']:.3f}")
    print(f"RTL       {sim_row['bit_exact']}/{sim_row['samples']} co-simulated inferences bit-exact, "
          f"{sim_row['cycles_exact']}/{sim_row['samples']} cycle counts = model")
    print(f"{a.board:<9} " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in util.items())
          + f"; Fmax {fm['min']:.1f}-{fm['max']:.1f} MHz over {len(synth['seeds'])} seeds, bitstream "
          f"{'meets' if bitstream_ok else 'MISSES'} {synth['clock']['pll_mhz']:g} MHz")
    print(f"latency   {synth['cycles']['median']:.0f} cycles = {latency_us:.0f} µs per inference (T={T_LAT})")
    print(f"report    {out / 'report.md'}")
