"""``ipvae sweep``: lanes x weight widths x core clocks on one board. For each point: the
golden model's quality (R² and zeros at T=32 on held-out patches, the bundle's float model
folded at that weight width), the exact cycle model, and synthesis at that clock (resources,
Fmax). A point's latency is its cycles at the clock its PLL really gives; a point whose median
Fmax misses that clock is reported but is not a shippable bitstream, so it is never Pareto.
Points run in parallel on the available cores; each synthesis is cached by its build key, so a
re-run only builds what changed. The Pareto plot puts µs per inference against logic used,
coloured by R² (by clock when every point has the same R²)."""
import dataclasses
import json
import os
import time
from pathlib import Path

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.boards.family import family_of
from ipvae.rtl.boards.registry import get_board

T_SWEEP = 32


def width_bundle(b, weight_bits, out):
    """The bundle's float model folded at another weight width, saved as a bundle."""
    from ipvae.golden_model.golden import fold
    path = Path(out) / f"bundle_w{weight_bits}"
    if not (path / "bundle.json").exists():
        fmt = dataclasses.replace(b.fmt, weight_bits=weight_bits)
        fixed = fold(b.float_model().fold(), fmt)
        keep = {k: v for k, v in b.meta.items() if k in ("created", "data", "normalisation", "training", "seeds",
                                                            "environment")}
        dims = {k: v for k, v in b.meta.get("dims", {}).items() if k not in ("n_inputs", "n_latents")}
        meta = dict(keep, dims=dims, metrics={},
                    command=f"ipvae sweep: {b.meta.get('command', '?')} folded at weight_bits={weight_bits}")
        bundle_mod.save(path, fixed, b.float_state, meta)
    return path


def quality(bundle_path, samples):
    from ipvae.golden_model.data import heldout, prepare
    from ipvae.golden_model.evaluate import fixed_metrics
    b = bundle_mod.load(bundle_path)
    x = heldout(prepare(b.data_spec(), log=lambda s: None), samples)
    m = fixed_metrics(b.fixed, b.phi, x, (T_SWEEP,))[T_SWEEP]
    return dict(r2=float(m["r2"]), zeros=float(m["zeros"]))


def _point(board_name, bundle_path, lanes, weight_bits, core_mhz, out_dir, seeds, samples):
    """One sweep point in a worker process; a build that does not fit is a result, not a failure."""
    from ipvae.synth import synthesize
    t0 = time.time()
    board = get_board(board_name)
    q = quality(bundle_path, samples)
    clock = board.pll_mhz(core_mhz)
    rec = dict(lanes=lanes, weight_bits=weight_bits, clock_mhz=clock, **q)
    try:
        rep = synthesize(board_name, bundle=str(bundle_path), lanes=lanes, seeds=seeds, out_dir=out_dir, jobs=1,
                         core_mhz=core_mhz, iterations=T_SWEEP, log=lambda s: None)
        fam = rep["device_family"]
        logic = rep["utilization"][family_of(fam).LOGIC]
        fmax = rep["fmax_mhz"]["median"]
        rec.update(fits=True, cycles=rep["cycles"]["median"], fmax_mhz=fmax, clock_mhz=rep["clock"]["pll_mhz"],
                   met=fmax >= rep["clock"]["pll_mhz"], us=rep["cycles"]["median"] / rep["clock"]["pll_mhz"],
                   logic_used=logic["used"], logic_pct=100 * logic["used"] / logic["available"],
                   utilization={k: v["used"] for k, v in rep["utilization"].items()}, report=Path(out_dir).name)
    except Exception as exc:            # placement failures: the point does not fit the device
        from ipvae.synth import inference_cycles
        b = bundle_mod.load(bundle_path)
        cyc = inference_cycles(b, lanes, T_SWEEP, board.search)
        lines = str(exc).splitlines()
        why = getattr(exc, "said", "") or next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else repr(exc))
        rec.update(fits=False, met=False, cycles=cyc["median"], us=cyc["median"] / clock,
                   error=why.replace("ERROR: ", "")[:160])
    rec["seconds"] = round(time.time() - t0, 1)
    return rec


def pareto(points):
    """Mark the points no other shippable point (fits, timing met) beats on all of µs (lower),
    logic (lower) and R² (higher)."""
    def shippable(p):
        return p["fits"] and p.get("met", True)
    ok = [p for p in points if shippable(p)]
    for p in points:
        p["pareto"] = shippable(p) and not any(
            q is not p and q["us"] <= p["us"] and q["logic_pct"] <= p["logic_pct"] and q["r2"] >= p["r2"]
            and (q["us"] < p["us"] or q["logic_pct"] < p["logic_pct"] or q["r2"] > p["r2"]) for q in ok)
    return points


def run_sweep(board_name, lanes_list, widths, bundle=None, out="runs/sweep", jobs=None, seeds=(1,), samples=300,
              clocks=(None,), log=print, cluster="local", runner=None):
    """clocks: core clocks in MHz to build at (None: the board's, constraints/<board>.toml). Each point
    is a task on ``cluster`` (ipvae/cluster.py: 'local', a LocalCluster of ``jobs`` processes, or a
    scheduler's address); a rerun reuses every point whose synthesis is cached. A point that fails
    on its own is listed in the report with its error, and the sweep raises an IpvaeError naming
    it once the report of the others is written. runner: None for Dask, or ``runner(fn, tasks)``
    returning a cluster.Outcome (ipvae/cluster_bench.py times a process pool this way)."""
    from ipvae.synth import resolve_bundle
    board = get_board(board_name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    b, bundle_label = resolve_bundle(bundle if bundle is not None else board.bundle, out, log=lambda s: None)
    k = b.fixed.n_latents
    bad = [p for p in lanes_list if p < 1 or k % p]
    if bad:
        raise ParameterError(f"lanes {bad} do not divide K={k}")
    if any(w < 2 or w > 16 for w in widths):
        raise ParameterError(f"weight widths must be in 2..16, got {list(widths)}")
    clocks = list(clocks) or [None]
    if any(c is not None and not 1 <= c <= 400 for c in clocks):
        raise ParameterError(f"core clocks must be 1..400 MHz, got {clocks}")
    for c in clocks:                    # a clock the PLL cannot make fails here, not in a worker
        board.pll_mhz(c)
    jobs = jobs or os.cpu_count() or 1
    t0 = time.time()
    bundles = {w: width_bundle(b, w, out) for w in widths}
    todo = [(p, w, c) for w in widths for c in clocks for p in lanes_list]
    clock_names = [f"{board.pll_mhz(c):g}" for c in clocks]
    log(f"[sweep] {board.platform_name}: {len(todo)} points (lanes {list(lanes_list)} x weight bits {list(widths)} x "
        f"clocks {', '.join(clock_names)} MHz) on {cluster}; each: golden-model quality, cycle model, synthesis "
        f"(cached)")
    tasks = [(f"P={p} w={w}" + (f" at {c:g} MHz" if c is not None else ""),
              (board_name, bundles[w], p, w, c, out / (f"P{p}_w{w}" + (f"_{c:g}MHz" if c is not None else "")),
               list(seeds), samples)) for p, w, c in todo]
    if runner is not None:
        outcome = runner(_point, tasks)
    else:
        from ipvae.cluster import close, connect, run_tasks
        client = connect(cluster, workers=jobs, log=log)
        try:
            outcome = run_tasks(client, _point, tasks, name="sweep", log=log)
        finally:
            close(client)
    points = []
    for label, rec in outcome.results.values():
        points.append(rec)
        what = (f"{rec['fmax_mhz']:.1f} MHz ({'met' if rec['met'] else 'MISSES'} {rec['clock_mhz']:g}), "
                f"{rec['logic_pct']:.0f} % logic" if rec["fits"] else f"does not fit ({rec['error']})")
        log(f"[sweep] {label}: R² {rec['r2']:.3f}, {rec['us']:.0f} µs, {what} ({rec['seconds']:.0f} s)")
    points.sort(key=lambda r: (r["weight_bits"], r["clock_mhz"], r["lanes"]))
    pareto(points)
    for p in points:                    # name only what varies
        p["label"] = f"P={p['lanes']}" + (f" w={p['weight_bits']}" if len(widths) > 1 else "")
        p["group"] = f"{p['clock_mhz']:g} MHz" if len(clocks) > 1 else ""
    from ipvae.golden_model.plots import plot_pareto
    plot_pareto(points, out / "pareto.png", f"{board.platform_name}, T={T_SWEEP}")
    (out / "sweep.json").write_text(json.dumps(points, indent=1))
    logic = board.fpga.LOGIC
    lines = [f"# Sweep: {board.platform_name}", "",
             f"Bundle `{bundle_label}` (N={b.fixed.n_inputs}, K={k}). "
             f"Lanes {list(lanes_list)} × weight widths {list(widths)} × core clocks {', '.join(clock_names)} MHz (the "
             f"PLL's "
             f"real outputs); T={T_SWEEP}; quality on {samples} held-out patches (golden model); latency = cycle-model "
             f"median at the core clock; a point whose median Fmax misses its clock is listed but never Pareto; "
             f"nextpnr seeds {list(seeds)}. {time.time() - t0:.0f} s.", "",
             "![Pareto plot](pareto.png)", "",
             f"| P | weight bits | clock (MHz) | R² | zeros | cycles | Fmax (MHz) | met | µs | {logic} | DSP | block "
             f"RAM "
             "| Pareto |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        head = (f"| {p['lanes']} | {p['weight_bits']} | {p['clock_mhz']:.2f} | {p['r2']:.3f} | {p['zeros']:.3f} | "
                f"{p['cycles']:.0f} | ")
        if p["fits"]:
            u = p["utilization"]
            dsp = u.get("DSP", u.get("DSP (MULT18X18D)", ""))
            ram = u.get("EBR", u.get("DP16KD", ""))
            lines.append(head + f"{p['fmax_mhz']:.1f} | {'yes' if p['met'] else 'no'} | {p['us']:.0f} | "
                         f"{p['logic_used']} ({p['logic_pct']:.0f} %) | {dsp} | {ram} | {'yes' if p['pareto'] else ''} "
                         f"|")
        else:
            lines.append(head + f"– | – | {p['us']:.0f} at the clock | does not fit: {p['error']} | | | |")
    if outcome.failures:
        lines += ["", "## Points that failed", "", *[f"- {f.label}: {f.error}" for f in outcome.failures]]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    log(f"[sweep] done in {time.time() - t0:.0f} s: {out / 'sweep.md'}, {out / 'pareto.png'}")
    if outcome.failures:
        from ipvae.golden_model.errors import IpvaeError
        raise IpvaeError(f"{len(outcome.failures)} sweep point(s) failed: "
                         + "; ".join(f"{f.label}: {f.error}" for f in outcome.failures))
    return points
