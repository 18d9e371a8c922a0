"""``ipvae flow``: the main job, end to end on the built-in default.

Stages: bundle (committed default, or --retrain) -> held-out data -> golden-model and float-model
evaluation -> RTL co-simulation on Verilator -> report (Markdown + PNG plots in one folder per
run). Synthesis plugs in after co-simulation when it lands.
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
    from . import bundle as bundle_mod
    from .data import prepare
    from .evaluate import fixed_metrics, float_metrics, metrics_table, runaway_check
    from .formats import encode_input
    from .golden import trace_one
    from . import plots

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 5
    t_start = time.time()

    _stage(1, total, "bundle")
    bundle_path = a.bundle
    if a.retrain:
        import torch
        from .config import get_config
        from .export import export
        from .formats import Formats
        from .train import train
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
    x = data.valid[:a.samples]
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

    _stage(4, total, f"RTL and co-simulation (Verilator, {a.sim_samples} held-out patches, T={a.sim_iterations}, "
                     f"P={a.lanes})")
    from sim.regression import heldout_cases, run as cosim, summarise, table as sim_table
    cases = heldout_cases(bundle_path, a.sim_samples, a.sim_iterations)
    res = cosim("verilator", bundle_path, a.lanes, cases, out / "sim_build", gap=0.2, backpressure=0.2)
    sim_row = summarise(res)
    sim_md = sim_table([sim_row])
    print(sim_md)
    if sim_row["bit_exact"] != sim_row["samples"]:
        bad = next(r for r in res["results"] if not r["bit_exact"])
        print(f"MISMATCH {bad['name']}: {bad['divergence']}")
    rtl_z = np.array([r["z_out"] for r in res["results"]])

    _stage(5, total, f"report -> {out}")
    plots.plot_dictionary(b.phi, shape, out / "dictionary.png")
    codes, _ = encode_input(x[:10], b.fmt)
    from .golden import run as golden_run
    ts = a.sim_iterations
    nrec = min(10, len(rtl_z))
    g = golden_run(b.fixed, codes[:nrec], ts, [c["seed"] for c in cases[:nrec]], lanes=a.lanes, record=[ts])
    f = model.infer(x[:nrec], ts, seed=0, record=(ts,))[ts][1].numpy()
    plots.plot_reconstructions([("input", x[:nrec]), (f"float T={ts}", f @ b.phi.T),
                                (f"golden T={ts}", g["z"][ts] @ b.phi.T),
                                (f"RTL T={ts}", rtl_z[:nrec] @ b.phi.T)], shape, out / "reconstructions.png", n=nrec)
    tr = trace_one(b.fixed, codes[0], 64, seed=0)
    plots.plot_raster(tr["z"], out / "raster.png")
    plots.plot_curves({"float": fl, "fixed (golden)": fx}, out / "curves.png")
    summary = dict(bundle=str(bundle_path or bundle_mod.DEFAULT_BUNDLE), samples=len(x), cosim=sim_row,
                   float={str(t): v for t, v in fl.items()}, fixed={str(t): v for t, v in fx.items()},
                   runaway=run, spiking_per_iteration=tr["spiking"].tolist(), seconds=time.time() - t_start)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "report.md").write_text("\n".join([
        "# ipvae flow report", "",
        f"Bundle: `{summary['bundle']}` (N={b.fixed.n_inputs}, K={b.fixed.n_latents}); "
        f"{len(x)} held-out samples.", "",
        "## Quality: float model vs integer golden model", "", table, "",
        f"Runaway check (float model, T={run['t']}, {run['samples']} inputs): "
        f"{run['runaway_fraction']:.3%} ran away; u max {run['u_max']:.2f}; largest count {run['count_max']}.", "",
        "![R² and zeros against iterations](curves.png)", "",
        f"## RTL co-simulation (Verilator, P={a.lanes}, T={a.sim_iterations}, random input gaps and output stalls)", "",
        "Every iteration's u and z, the outputs and the cycle count are compared with the golden model.", "",
        sim_md, "",
        "## Dictionary", "", "![dictionary](dictionary.png)", "",
        "## Reconstructions", "", "![reconstructions](reconstructions.png)", "",
        "## Spikes of one input (golden model, seed 0)", "", "![raster](raster.png)", "",
        f"Spiking neurons per iteration: {tr['spiking'].tolist()}", "",
    ]))
    print(f"\nflow done in {time.time() - t_start:.0f} s: report {out / 'report.md'}")
