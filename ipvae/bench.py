"""``ipvae bench``: latency per inference of the FPGA core (exact cycle model over held-out
patches / the Fmax of a synthesis report) side by side with the NumPy golden model and the
PyTorch float model on this CPU (batch 1 and batch 256), the co-simulation speed and the
training time, all measured in one run on one machine; writes docs/benchmarks.md."""
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

T_BENCH = 32


def _best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cpu_latency(b, x, batch, repeats=3):
    """Seconds per inference of the golden model and the float model at one batch size."""
    import torch

    from ipvae.golden_model.formats import encode_input
    from ipvae.golden_model.golden import run
    codes, _ = encode_input(x[:batch], b.fmt)
    seeds = np.arange(batch) + 1
    t_np = _best_of(lambda: run(b.fixed, codes, T_BENCH, seeds, lanes=1), repeats) / batch
    model = b.float_model()
    xt = torch.as_tensor(x[:batch], dtype=torch.float32)
    with torch.no_grad():
        t_pt = _best_of(lambda: model.infer(xt, T_BENCH, seed=1, record=(T_BENCH,)), repeats) / batch
    return t_np, t_pt


def fpga_latency(report_path):
    r = json.loads(Path(report_path).read_text())
    best = max(s["core_fmax_mhz"] for s in r["seeds"])
    # the shipped bitstream (the fastest seed) runs at the PLL clock when it meets it
    clock = r["clock"]["pll_mhz"] if best >= r["clock"]["pll_mhz"] else best
    return dict(board=r["platform"], lanes=r["lanes"], n=r["n_inputs"], k=r["n_latents"], cycles=r["cycles"]["median"],
                fmax=r["fmax_mhz"]["median"], target=r["clock"]["pll_mhz"], clock=clock,
                us=r["cycles"]["median"] / clock, source=r["cycles"]["source"], bundle=r["bundle"])


def cosim_speed(bundle_path, build_root, samples=4, iterations=16, lanes=8):
    from ipvae.sim.regression import heldout_cases, run, summarise
    cases = heldout_cases(bundle_path, samples, iterations)
    run("verilator", bundle_path, lanes, cases, build_root)            # build once, not timed
    return summarise(run("verilator", bundle_path, lanes, cases, build_root))


def training_speed(steps=(20, 80)):
    """Seconds per optimiser step of the default config on this CPU (the full run is 7,000 steps):
    the difference of two short runs, so set-up and the final evaluation cancel."""
    import dataclasses

    import torch

    from ipvae.golden_model.config import get_config
    from ipvae.golden_model.data import prepare
    from ipvae.golden_model.train import train
    data = prepare(get_config("default").data, log=lambda s: None)
    torch.set_num_threads(os.cpu_count() or 1)
    times = []
    for n in steps:
        cfg = dataclasses.replace(get_config("default"), steps=n)
        t0 = time.perf_counter()
        train(cfg, data, out_dir=None, log=lambda s: None)
        times.append(time.perf_counter() - t0)
    return (times[1] - times[0]) / (steps[1] - steps[0]), get_config("default").steps


def run_bench(a):
    import torch

    from ipvae.golden_model.errors import ParameterError
    missing = [str(p) for p in a.reports if not Path(p).is_file()]
    if missing:   # checked first: the benchmark runs for minutes before it reads them
        raise ParameterError(f"synthesis report(s) not found: {', '.join(missing)} (run ipvae synth first, or "
                             "name others with --reports)")

    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import prepare
    torch.set_num_threads(os.cpu_count() or 1)
    b = bundle_mod.load(a.bundle)
    x = prepare(b.data_spec(), log=lambda s: None).valid[:256]
    rows = []
    print(f"[bench] CPU: golden model (NumPy) and float model (PyTorch), T={T_BENCH}", flush=True)
    cpu = {}
    for batch in (1, 256):
        t_np, t_pt = cpu_latency(b, x, batch, repeats=5 if batch == 1 else 2)
        cpu[batch] = (t_np, t_pt)
        print(f"[bench]   batch {batch}: NumPy {t_np * 1e6:.0f} µs, PyTorch {t_pt * 1e6:.0f} µs per inference", flush=True)
    fpga = [fpga_latency(p) for p in a.reports]
    for f in fpga:
        print(f"[bench] FPGA {f['board']}: {f['cycles']:.0f} cycles at {f['clock']:.1f} MHz = {f['us']:.0f} µs", flush=True)
    print("[bench] co-simulation speed (Verilator) ...", flush=True)
    sim = cosim_speed(a.bundle, a.build)
    print("[bench] training speed (default config) ...", flush=True)
    step_s, full_steps = training_speed()
    recorded = b.meta.get("training", {}).get("seconds")

    n, k = b.fixed.n_inputs, b.fixed.n_latents
    for f in fpga:
        same = (f["n"], f["k"]) == (n, k)
        rows.append((f"FPGA core, {f['board']}, P={f['lanes']} (N={f['n']}, K={f['k']})", f["us"],
                     f"{f['cycles']:.0f} cycles at {f['clock']:.1f} MHz (the bitstream's clock; median Fmax over seeds "
                     f"{f['fmax']:.1f} MHz); {'same model as the CPU rows' if same else 'larger model than the CPU rows'}"))
    for batch in (1, 256):
        rows.append((f"NumPy golden model, batch {batch}", cpu[batch][0] * 1e6, "bit-exact integer model, one core"))
        rows.append((f"PyTorch float model, batch {batch}", cpu[batch][1] * 1e6,
                     f"exact Poisson, {torch.get_num_threads()} threads"))
    up = next((f for f in fpga if (f["n"], f["k"]) == (n, k)), None)
    lines = [
        "# Benchmarks", "",
        f"`ipvae bench` on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}; every figure below measured in that one run (the FPGA rows from the "
        "synthesis reports named). Latency per inference at T=32 of the default bundle "
        f"(N={n}, K={k}); CPU times are the best of several repeats.", "",
        "| what | µs per inference | notes |", "|---|---|---|",
        *[f"| {name} | {us:,.0f} | {note} |" for name, us, note in rows], "",
    ]
    if up:
        lines += [f"FPGA vs CPU at batch 1: the {up['board']} core is {cpu[1][0] * 1e6 / up['us']:.1f}× faster than "
                  f"the NumPy golden model and {cpu[1][1] * 1e6 / up['us']:.1f}× faster than PyTorch; at batch 256 "
                  f"the CPU amortises to {cpu[256][0] * 1e6:.0f} µs (NumPy) and {cpu[256][1] * 1e6:.0f} µs (PyTorch) "
                  "per inference.", ""]
    lines += [
        "## Co-simulation", "",
        f"Verilator, default bundle, P=8, T=16, {sim['samples']} held-out patches: "
        f"{sim['sim_cycles_per_s']:,.0f} simulated cycles/s, {sim['inferences_per_s']:.2f} inferences/s "
        f"(every iteration checked against the golden model; {sim['bit_exact']}/{sim['samples']} bit-exact).", "",
        "## Training", "",
        f"Default config on this CPU: {step_s * 1e3:.0f} ms per step ({full_steps:,} steps: about "
        f"{step_s * full_steps / 60:.0f} min)."
        + (f" The committed default bundle's recorded training took {recorded:.0f} s." if recorded else ""), "",
        "Re-run: `.venv/bin/ipvae bench` (after `ipvae synth` for the boards whose reports it reads).", "",
    ]
    Path(a.write).parent.mkdir(parents=True, exist_ok=True)
    Path(a.write).write_text("\n".join(lines))
    print("\n".join(lines))
