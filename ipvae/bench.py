"""``ipvae bench``: latency per inference of the FPGA core (exact cycle model over held-out
patches / the Fmax of a synthesis report) side by side with the NumPy golden model and the
PyTorch float model on this CPU (batch 1 and batch 256), the co-simulation speed and the
training time, all measured in one run on one machine; writes docs/benchmarks.md."""
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ipvae.energy import SOURCE as ENERGY_SOURCE
from ipvae.energy import estimate
from ipvae.golden_model.model import CLAMP, U_MIN

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


def _softclamp(v, c=CLAMP):
    """The float model's S_c(v) = c - softplus(c - max(v, U_MIN)), in float32."""
    v = np.maximum(v, np.float32(U_MIN))
    return np.float32(c) - np.logaddexp(np.float32(0.0), np.float32(c) - v).astype(np.float32)


def numpy_loop(fold, x, iterations, rng):
    """The plain CPU anchor a user would write: the folded float model in float32 NumPy,
    exact Poisson counts, batch 1 with an event-driven lateral term (only the columns of W whose
    neurons spiked), a dense one for a batch. Returns the output counts."""
    F, W, c, u0 = fold["F"], fold["W"], fold["c"], fold["u0"]
    d = x @ F.T - c
    u = np.broadcast_to(u0, d.shape).copy()
    for _ in range(iterations):
        z = rng.poisson(np.exp(u)).astype(np.float32)
        if d.ndim == 1:
            idx = np.flatnonzero(z)
            lat = W[:, idx] @ z[idx]
        else:
            lat = z @ W.T
        u = _softclamp(u + _softclamp(d - lat))
    return rng.poisson(np.exp(u))


def compiled_loop():
    """The same batch-1 loop compiled with Numba (float32, exact Poisson from Numba's generator,
    event-driven lateral over the spiking neurons' rows of Wᵀ): the fastest plain CPU code we know
    how to write for one patch. Returns loop(F, WT, c, u0, x, iterations, seed) -> counts."""
    import numba

    @numba.njit(cache=False)
    def softclamp(v):
        v = max(v, np.float32(U_MIN))
        a = np.float32(CLAMP) - v                 # c - softplus(a), stable for either sign of a
        return np.float32(CLAMP) - (max(a, np.float32(0.0)) + np.float32(np.log1p(np.exp(-abs(a)))))

    @numba.njit(cache=False)
    def loop(F, WT, c, u0, x, iterations, seed):
        np.random.seed(seed)
        K, N = F.shape
        d = np.empty(K, np.float32)
        for k in range(K):
            acc = np.float32(0.0)
            for n in range(N):
                acc += F[k, n] * x[n]
            d[k] = acc - c[k]
        u = u0.copy()
        z = np.zeros(K, np.int64)
        spiking = np.empty(K, np.int64)
        lat = np.empty(K, np.float32)
        for _ in range(iterations):
            m = 0
            for k in range(K):
                z[k] = np.random.poisson(np.exp(u[k]))
                if z[k] > 0:
                    spiking[m] = k
                    m += 1
            lat[:] = 0.0
            for i in range(m):
                j = spiking[i]
                zj = np.float32(z[j])
                for k in range(K):
                    lat[k] += WT[j, k] * zj
            for k in range(K):
                u[k] = softclamp(u[k] + softclamp(d[k] - lat[k]))
        for k in range(K):
            z[k] = np.random.poisson(np.exp(u[k]))
        return z

    return loop


def fold32(b):
    """The bundle's folded float model (F, W, c, u0) as contiguous float32 arrays: what the CPU loops run."""
    return {k: np.ascontiguousarray(np.asarray(v, np.float32)) for k, v in b.float_model().fold().items()}


def compiled_loop_latency(b, x, repeats=3):
    """Seconds per inference of :func:`compiled_loop` at batch 1 (the mean over up to 64 patches;
    compiled once before the clock starts)."""
    fold = fold32(b)
    F, WT, c, u0 = fold["F"], np.ascontiguousarray(fold["W"].T), fold["c"], fold["u0"]
    loop = compiled_loop()
    xs = np.asarray(x, np.float32)
    n = min(len(xs), 64)
    loop(F, WT, c, u0, xs[0], T_BENCH, 0)
    return _best_of(lambda: [loop(F, WT, c, u0, xs[i], T_BENCH, i) for i in range(n)], repeats) / n


def compiled_golden_latency(b, x, lanes=1, repeats=3):
    """Seconds per inference of the Numba-compiled integer golden model (ipvae/compiled_golden.py) at
    batch 1: the hardware's own arithmetic, table sampler and event-driven lateral step on one core
    (the mean over up to 64 patches; compiled once before the clock starts)."""
    from ipvae.compiled_golden import compiled_golden
    from ipvae.golden_model.formats import encode_input
    codes, _ = encode_input(np.asarray(x)[:64], b.fmt)
    cg = compiled_golden(b.fixed, lanes)
    cg.infer(codes[0], T_BENCH, 0)
    return _best_of(lambda: [cg.infer(codes[i], T_BENCH, i) for i in range(len(codes))], repeats) / len(codes)


def numpy_loop_latency(b, x, batch, repeats=3):
    """Seconds per inference of :func:`numpy_loop` at one batch size (batch 1: the mean over patches)."""
    fold = fold32(b)
    rng = np.random.default_rng(0)
    xs = np.asarray(x, np.float32)
    if batch == 1:
        n = min(len(xs), 64)
        return _best_of(lambda: [numpy_loop(fold, xs[i], T_BENCH, rng) for i in range(n)], repeats) / n
    return _best_of(lambda: numpy_loop(fold, xs[:batch], T_BENCH, rng), repeats) / batch


def fpga_latency(report_path):
    """The FPGA row of a synthesis report (``ipvae synth``'s report.json); a file that is not one is a
    ParameterError naming it."""
    from ipvae.golden_model.errors import ParameterError
    path = Path(report_path)
    if not path.is_file():
        raise ParameterError(f"synthesis report not found: {path} (run ipvae synth first, or name others with "
                             "--reports)")
    try:
        r = json.loads(path.read_text())
        return _fpga_row(r)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ParameterError(f"synthesis report {path} is not valid JSON ({exc})") from None
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ParameterError(f"synthesis report {path} is not an ipvae synth report (no usable {exc})") from None


def _fpga_row(r):
    best = max(s["core_fmax_mhz"] for s in r["seeds"])
    # the shipped bitstream (the fastest seed) runs at the PLL clock when it meets it
    clock = r["clock"]["pll_mhz"] if best >= r["clock"]["pll_mhz"] else best
    lanes = (f"L={r['lateral_lanes']} lateral lanes, S={r['lanes']}" if r.get("lateral_lanes")
             else f"P={r['lanes']}")
    return dict(board=r["platform"], lanes=r["lanes"], core=lanes, n=r["n_inputs"], k=r["n_latents"],
                cycles=r["cycles"]["median"],
                fmax=r["fmax_mhz"]["median"], target=r["clock"]["pll_mhz"], clock=clock,
                us=r["cycles"]["median"] / clock, source=r["cycles"]["source"], bundle=r["bundle"],
                family=r["device_family"], used={name: u["used"] for name, u in r["utilization"].items()},
                **_link_rate(r))


def _link_rate(r):
    """Inferences per second through the board's UART, as its report states it: pipelined requests
    (rtl/cycle_model.link_cycles) or, in a report built before the pipelined link, request/response."""
    lat = r["latency"]
    if "link_inferences_per_s" in lat:
        return dict(uart_per_s=lat["link_inferences_per_s"], baud=r["baud"], link="requests pipelined")
    return dict(uart_per_s=lat["uart_limited_inferences_per_s"], baud=r["baud"],
                link="request/response: a bitstream built before the pipelined link")


def energy_section(fpga, loop_s, up):
    """The energy-per-inference section: the iCE40 estimate (ipvae/energy.py) for each FPGA row
    (:func:`fpga_latency`), and the CPU power at which a loop of ``loop_s`` seconds per inference
    (the compiled one) would match it (the CPU's own power is not readable here)."""
    lines = ["## Energy per inference (estimate)", "",
             "From measured currents of the same chip, not from a vendor's per-resource figures (Lattice publishes "
             f"none for the iCE40 UltraPlus outside its Power Calculator): {ENERGY_SOURCE}. Model, fitted terms and "
             "what it leaves out: `ipvae/energy.py`. Low end: logic switching like counters, only one phase's DSPs "
             "busy; "
             "high end: logic switching like a multiplier of counters, every DSP busy. Block RAM, SPRAM and I/O "
             "currents are not in either end (the source did not measure them).", "",
             "| board | LC | DSP | EBR | SPRAM | clock | µs | core power (mW) | µJ per inference | CPU break-even |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    skipped, brackets = [], []
    for f in fpga:
        e, why = estimate(f)
        if e is None:
            skipped.append(why)
            continue
        if e.get("bracket"):
            brackets.append(e)
            continue
        cpu_s = loop_s if up is not None and e["board"] == up["board"] else None
        even = (f"{e['low']['uj'] / (cpu_s * 1e6) * 1e3:.0f}–{e['high']['uj'] / (cpu_s * 1e6) * 1e3:.0f} mW"
                if cpu_s else "no CPU row of its model")
        lines.append(f"| {e['board']}, P={e['lanes']} | {e['lc']:,} | {e['dsp']} | {e['ebr']} | {e['spram']} | "
                     f"{e['mhz']:.1f} MHz | {e['us']:,.0f} | {e['low']['mw']:.1f}–{e['high']['mw']:.1f} | "
                     f"{e['low']['uj']:.0f}–{e['high']['uj']:.0f} | {even} |")
    lines += ["", "CPU break-even: the fastest CPU row of the model at batch 1 on one core (the compiled loop or the "
                  "compiled golden model) uses less energy per inference than the board only if that core draws less "
                  "than this while running it (energy = power × its time above). The CPU's power cannot be read in "
                  "this VM (no RAPL)."]
    if brackets:
        lines += ["", "The ECP5: a bracket, not an estimate. No measurement of this design and no per-resource figures "
                      "are reachable here (Lattice's method is its Power Calculator on the placed design, TN1266); "
                      "each end is a published power of another whole ECP5 design, times this core's time per "
                      "inference. Neither end depends on the clock or the logic used.", "",
                  "| board | LUT4 | DP16KD | clock | µs | power (mW), low–high | µJ per inference | sources |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in brackets:
            lines.append(f"| {e['board']}, {e['core']} | {e['lut4']:,} | {e['dp16kd']} | {e['mhz']:.1f} MHz | "
                         f"{e['us']:,.0f} | {e['low']['mw']:.0f}–{e['high']['mw']:.0f} | "
                         f"{e['low']['uj']:.0f}–{e['high']['uj']:.0f} | low: {e['low']['source']}; "
                         f"high: {e['high']['source']} |")
    if skipped:
        lines += ["", "Not estimated: " + "; ".join(skipped) + "."]
    return lines + [""]


def cosim_speed(bundle_path, build_root, samples=4, iterations=16, lanes=8):
    from ipvae.sim.regression import heldout_cases, run, summarise
    cases = heldout_cases(bundle_path, samples, iterations)
    run("verilator", bundle_path, lanes, cases, build_root)            # build once, not timed
    return summarise(run("verilator", bundle_path, lanes, cases, build_root))


def training_speed(b, steps=30):
    """Seconds per optimiser step of the default config as it runs late in training, and the whole
    run's estimate. Early steps are cheap (small rates, few arrivals drawn), so a short run from the
    initial model under-estimates and one timed on the trained model over-estimates (the arrivals
    drawn grow with the rates as the run goes): both ends are timed, the run is estimated at their
    mean per step, and the 20 validation passes are added."""
    import torch

    from ipvae.golden_model.config import get_config
    from ipvae.golden_model.data import prepare
    from ipvae.golden_model.evaluate import quick_val
    from ipvae.golden_model.train import n_exp_for_rate, schedules, sequence_loss
    cfg = get_config("default")
    data = prepare(cfg.data, log=lambda s: None)
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    from ipvae.golden_model.model import IPVAE
    x = torch.from_numpy(data.train[:cfg.batch])

    def time_steps(model, sch, n_exp):
        opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr)

        def step():
            loss = sequence_loss(model, x, cfg, sch, n_exp)[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
        step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - t0) / steps

    fresh = IPVAE(data.n_inputs, cfg.n_latents, cfg.init_scale, cfg.prior_lo, cfg.prior_hi, cfg.seed)
    early = time_steps(fresh, schedules(cfg, 0), [n_exp_for_rate(3.0, cfg.n_exp_cap)] * cfg.t_train)
    model = b.float_model()
    with torch.no_grad():
        u, rates = model.initial_state(len(x)), []
        for _ in range(cfg.t_train):
            rates.append(float(torch.exp(u).max()))
            u = model.update(u, x, torch.poisson(torch.exp(u)), cfg.clamp_final)
    n_exp = [n_exp_for_rate(r, cfg.n_exp_cap) for r in rates]
    late = time_steps(model, schedules(cfg, cfg.steps - 1), n_exp)
    val = quick_val(data.valid[:500])
    t0 = time.perf_counter()
    val(model)
    per_eval = time.perf_counter() - t0
    return dict(early_s=early, late_s=late, n_exp_max=max(n_exp), eval_s=per_eval, steps=cfg.steps,
                total_s=(early + late) / 2 * cfg.steps + 20 * per_eval)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What ``ipvae bench`` measures: the model for the CPU rows (a bundle spec), the synthesis
    reports for the FPGA rows, the co-simulation's build folder, and the document it writes."""
    bundle: str | None
    reports: tuple
    build: Path
    write: Path


@dataclasses.dataclass
class CpuRows:
    load: float
    cpu: dict          # batch -> (golden model s, PyTorch s)
    loop: dict         # batch -> NumPy loop s
    compiled: float    # Numba loop s, batch 1
    golden_compiled: float = 0.0   # Numba-compiled integer golden model s, batch 1

    @property
    def fastest(self) -> float:
        """The fastest CPU row of the default model (batch 1, one core)."""
        return min(self.compiled, self.golden_compiled or self.compiled)


def stage_reports(cfg: BenchConfig) -> list:
    """The FPGA rows, read first: a missing or corrupt report stops the run before minutes of work."""
    return [fpga_latency(p) for p in cfg.reports]


def stage_cpu(b, x) -> CpuRows:
    """The CPU anchors on the default model: NumPy loop, golden model, PyTorch, Numba loop."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    load = os.getloadavg()[0]
    print(f"[bench] CPU (load average {load:.2f}): NumPy loop, golden model, PyTorch, T={T_BENCH}", flush=True)
    cpu, loop = {}, {}
    for batch in (1, 256):
        loop[batch] = numpy_loop_latency(b, x, batch, repeats=3)
        t_np, t_pt = cpu_latency(b, x, batch, repeats=5 if batch == 1 else 2)
        cpu[batch] = (t_np, t_pt)
        print(f"[bench]   batch {batch}: NumPy float32 loop {loop[batch] * 1e6:.0f} µs, golden model "
              f"{t_np * 1e6:.0f} µs, PyTorch {t_pt * 1e6:.0f} µs per inference", flush=True)
    compiled = compiled_loop_latency(b, x, repeats=3)
    print(f"[bench]   batch 1: Numba-compiled float32 loop {compiled * 1e6:.0f} µs per inference", flush=True)
    golden_compiled = compiled_golden_latency(b, x, repeats=3)
    print(f"[bench]   batch 1: Numba-compiled integer golden model {golden_compiled * 1e6:.0f} µs per inference",
          flush=True)
    return CpuRows(load, cpu, loop, compiled, golden_compiled)


def stage_own_models(fpga, b) -> dict:
    """A board that runs another shipped model (the ULX3S-85F: the paper bundle) gets its own
    anchors: bundle label -> (NumPy loop s, Numba loop s, compiled golden model s)."""
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import prepare
    n, k = b.fixed.n_inputs, b.fixed.n_latents
    own = {}
    for f in fpga:
        shipped = bundle_mod.builtin_spec(f["bundle"])
        if (f["n"], f["k"]) != (n, k) and shipped is not None and f["bundle"] not in own:
            ob = bundle_mod.load(shipped)
            print(f"[bench] NumPy float32 loop of {f['bundle']} (N={f['n']}, K={f['k']}), batch 1 ...", flush=True)
            ox = prepare(ob.data_spec(), log=lambda s: None).valid[:64]
            own[f["bundle"]] = (numpy_loop_latency(ob, ox, 1, repeats=3), compiled_loop_latency(ob, ox, repeats=3),
                                compiled_golden_latency(ob, ox, f["lanes"], repeats=3))
    return own


def run_bench(cfg: BenchConfig) -> str:
    """Every stage in order; writes and returns the document."""
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import prepare
    fpga = stage_reports(cfg)
    b = bundle_mod.load(cfg.bundle)
    x = prepare(b.data_spec(), log=lambda s: None).valid[:256]
    c = stage_cpu(b, x)
    for f in fpga:
        print(f"[bench] FPGA {f['board']}: {f['cycles']:.0f} cycles at {f['clock']:.1f} MHz = {f['us']:.0f} µs",
              flush=True)
    own = stage_own_models(fpga, b)
    print("[bench] co-simulation speed (Verilator) ...", flush=True)
    sim = cosim_speed(cfg.bundle, cfg.build)
    print("[bench] training speed (default config, late in training) ...", flush=True)
    tr = training_speed(b)
    text = "\n".join(bench_document(b, fpga, c, own, sim, tr))
    Path(cfg.write).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.write).write_text(text)
    print(text)
    return text


def bench_document(b, fpga, c: CpuRows, own, sim, tr) -> list:
    """docs/benchmarks.md's lines from the measured rows."""
    import torch
    cpu, loop, compiled, load = c.cpu, c.loop, c.compiled, c.load
    n, k = b.fixed.n_inputs, b.fixed.n_latents
    recorded = b.meta.get("training", {}).get("seconds")
    rows = []
    for f in fpga:
        same = (f["n"], f["k"]) == (n, k)
        if same:
            rf = c.fastest * 1e6 / f["us"]
            model = ("same model as the CPU rows: " + (f"{rf:.2f}× faster" if rf >= 1 else f"{1 / rf:.2f}× slower")
                     + " than their fastest (batch 1, one core)")
        elif f["bundle"] in own:
            t_np, t_c, t_g = own[f["bundle"]]
            r, rf = t_np * 1e6 / f["us"], min(t_c, t_g) * 1e6 / f["us"]
            model = (f"its own model ({f['bundle']}): " + (f"{r:.1f}× faster" if r >= 1 else f"{1 / r:.1f}× slower")
                     + " than the NumPy loop of it below, "
                     + (f"{rf:.2f}× faster" if rf >= 1 else f"{1 / rf:.2f}× slower")
                     + " than its fastest CPU row (the compiled loops below)")
        else:
            model = "another model than the CPU rows"
        rows.append((f"FPGA core, {f['board']}, {f['core']} (N={f['n']}, K={f['k']})", f["us"],
                     f"{f['cycles']:.0f} cycles at {f['clock']:.1f} MHz (the bitstream's clock; median Fmax over seeds "
                     f"{f['fmax']:.1f} MHz): the core alone {1e6 / f['us']:,.0f} inferences/s; through its UART at "
                     f"{f['baud']:,} baud ({f['link']}): {f['uart_per_s']:,.0f} inferences/s "
                     f"= {1e6 / f['uart_per_s']:,.0f} µs each"
                     + (" (the UART is the limit)" if f["uart_per_s"] < 0.95e6 / f["us"] else "") + f"; {model}"))
    for label, (t, tc, tg) in own.items():
        ob = next(f for f in fpga if f["bundle"] == label)
        rows.append((f"NumPy float32 loop of the folded model, {label} (N={ob['n']}, K={ob['k']}), batch 1", t * 1e6,
                     "the same loop on the board's own model, held-out patches of its data, one core"))
        rows.append((f"Numba-compiled float32 loop, {label} (N={ob['n']}, K={ob['k']}), batch 1", tc * 1e6,
                     "the compiled loop on the board's own model, one core"))
        rows.append((f"Numba-compiled integer golden model, {label} (N={ob['n']}, K={ob['k']}), batch 1", tg * 1e6,
                     f"bit-exact with the board (its {ob['lanes']} sampler lanes): integer arithmetic, table sampler, "
                     "event-driven lateral, one core"))
    rows.append(("Numba-compiled float32 loop of the folded model, batch 1", compiled * 1e6,
                 "the same loop compiled (Numba): exact Poisson, event-driven lateral, one core"))
    if c.golden_compiled:
        rows.append(("Numba-compiled integer golden model, batch 1", c.golden_compiled * 1e6,
                     "the hardware's arithmetic compiled (ipvae/compiled_golden.py): table sampler, event-driven "
                     "lateral, one core"))
    for batch in (1, 256):
        rows.append((f"NumPy float32 loop of the folded model, batch {batch}", loop[batch] * 1e6,
                     "what a user writes first: exact Poisson, "
                     + ("event-driven lateral, " if batch == 1 else "dense lateral, ")
                     + "one core"))
        rows.append((f"NumPy golden model, batch {batch}", cpu[batch][0] * 1e6,
                     "bit-exact integer model (a specification, not written for speed), one core"))
        rows.append((f"PyTorch float model, batch {batch}", cpu[batch][1] * 1e6,
                     f"exact Poisson, {torch.get_num_threads()} threads"))
    up = next((f for f in fpga if (f["n"], f["k"]) == (n, k)), None)
    lines = [
        "# Benchmarks", "",
        f"`ipvae bench` on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}, load average {load:.2f} when it started; every figure below measured in that "
        "one run (the FPGA rows from the synthesis reports named). Latency per inference at T=32 of the default bundle "
        f"(N={n}, K={k}); CPU times are the best of several repeats. CPU figures move with the machine's load: "
        "compare rows of one run, not runs of different days.", "",
        "| what | µs per inference | notes |", "|---|---|---|",
        *[f"| {name} | {us:,.0f} | {note} |" for name, us, note in rows], "",
    ]
    if up:
        r = loop[1] * 1e6 / up["us"]
        lines += [f"The honest anchor is the plain NumPy loop at batch 1: the {up['board']} core takes "
                  f"{up['us']:,.0f} µs, the loop {loop[1] * 1e6:,.0f} µs, so the core is "
                  + (f"{r:.1f}× faster" if r >= 1 else f"{1 / r:.1f}× slower")
                  + f" than one CPU core running it (PyTorch at batch 1: {cpu[1][1] * 1e6:,.0f} µs); "
                  f"the fastest CPU row (the compiled loop or the compiled golden model) takes "
                  f"{c.fastest * 1e6:,.0f} µs, and the core is "
                  + (f"{c.fastest * 1e6 / up['us']:.1f}× faster" if c.fastest * 1e6 >= up["us"] else
                     f"{up['us'] / (c.fastest * 1e6):.1f}× slower") + " than that. "
                  f"At batch 256 the CPU amortises to {loop[256] * 1e6:,.0f} µs (NumPy loop) and "
                  f"{cpu[256][1] * 1e6:,.0f} µs "
                  f"(PyTorch) per inference. Through its UART ({up['baud']:,} baud, {up['link']}) the board runs "
                  f"{up['uart_per_s']:.0f} inferences/s against the core's {1e6 / up['us']:.0f}/s.", ""]
    lines += energy_section(fpga, c.fastest, up)
    lines += [
        "## Co-simulation", "",
        f"Verilator, default bundle, P=8, T=16, {sim['samples']} held-out patches: "
        f"{sim['sim_cycles_per_s']:,.0f} simulated cycles/s, {sim['inferences_per_s']:.2f} inferences/s "
        f"(every iteration checked against the golden model; {sim['bit_exact']}/{sim['samples']} bit-exact).", "",
        "## Training", "",
        f"Default config on this CPU, {torch.get_num_threads()} threads: {tr['early_s'] * 1e3:.0f} ms per step at the "
        f"start, {tr['late_s'] * 1e3:.0f} ms late in training (the trained model's rates need up to {tr['n_exp_max']} "
        f"arrivals per relaxed sample), {tr['eval_s'] * 1e3:.0f} ms per validation pass; {tr['steps']:,} steps at the "
        f"mean of the two and 20 validations: about {tr['total_s'] / 60:.0f} min."
        + (f" The committed default bundle's recorded training took {recorded:.0f} s." if recorded else ""), "",
    ]
    from ipvae.cluster_bench import scaling_section
    lines += scaling_section()
    lines += ["Re-run: `.venv/bin/ipvae bench` (after `ipvae synth` for the boards whose reports it reads, and "
              "`ipvae cluster-bench` for the cluster section), on an idle machine.", ""]
    return lines
