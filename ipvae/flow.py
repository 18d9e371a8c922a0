"""``ipvae flow``: the main job, end to end on the built-in default.

Stages (each a function below, over a :class:`FlowConfig` and what earlier stages returned, as
FINN's build steps): bundle (committed default, or --retrain) -> held-out data -> golden-model and
float-model evaluation -> RTL co-simulation on Verilator -> synthesis for a board (YoWASP Yosys +
nextpnr) -> report (Markdown + PNG plots in one folder per run). The bundle is loaded once; only
the co-simulation's child process reads it again from its folder. Re-runs reuse what is
unchanged: the data cache, the co-simulation build (keyed by its Verilog) and the synthesis (keyed
by its design, constraints, seeds and tools).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ipvae.golden_model import bundle as bundle_mod
from ipvae.rtl.boards.registry import Board, get_board

__all__ = ["FlowConfig", "STAGES", "run_flow", "stage_bundle", "stage_data", "stage_quality", "stage_cosim",
           "stage_synthesis", "stage_report"]

CURVE_TS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """What one flow run does: the report folder, the board and its lanes, the model (a bundle spec,
    or retrain the default), how many held-out samples to evaluate and co-simulate, and the nextpnr
    seeds."""
    out: Path
    board: Board
    lanes: int
    bundle: str | None = None
    retrain: bool = False
    samples: int = 1000
    sim_samples: int = 8
    sim_iterations: int = 16
    seeds: tuple[int, ...] = (1, 2, 3)

    @classmethod
    def create(cls, out, board_name, *, lanes=None, **kw) -> FlowConfig:
        board = get_board(board_name)
        return cls(out=Path(out), board=board, lanes=lanes or board.lanes, **kw)


@dataclasses.dataclass
class Quality:
    model: object
    float_metrics: dict
    fixed_metrics: dict
    table: str
    runaway: dict


@dataclasses.dataclass
class CoSim:
    cases: list
    results: dict
    row: dict
    table: str
    z_out: np.ndarray


def _stage(n, total, text):
    print(f"\n== [{n}/{total}] {text}", flush=True)


def stage_bundle(cfg: FlowConfig):
    """The model: the given bundle, the board's own (when the package ships it), the default, or a
    freshly trained default (--retrain). Returns (bundle spec for child processes, Bundle)."""
    spec = cfg.bundle
    if spec is None and not cfg.retrain:
        spec = bundle_mod.builtin_spec(cfg.board.bundle)     # the board's own model, when it ships one
    if cfg.retrain:
        import torch

        from ipvae.golden_model.config import get_config
        from ipvae.golden_model.data import prepare
        from ipvae.golden_model.export import export
        from ipvae.golden_model.formats import Formats
        from ipvae.golden_model.train import train
        torch.set_num_threads(2)
        tcfg = get_config("default")
        train(tcfg, prepare(tcfg.data), out_dir=cfg.out / "train")
        spec = cfg.out / "bundle"
        export(cfg.out / "train" / "checkpoint.pt", spec, Formats(), command="ipvae flow --retrain")
    b = bundle_mod.load(spec)
    print(f"bundle {spec or bundle_mod.DEFAULT_BUNDLE}: N={b.fixed.n_inputs} K={b.fixed.n_latents}, "
          f"formats {b.fmt.to_dict()}")
    return spec, b


def stage_data(cfg: FlowConfig, b):
    """Held-out samples of the bundle's data: (samples, image shape)."""
    from ipvae.golden_model.data import heldout, prepare
    data = prepare(b.data_spec())
    x = heldout(data, cfg.samples)
    return x, tuple(b.meta["dims"].get("sample_shape") or data.shape)


def stage_quality(cfg: FlowConfig, b, x) -> Quality:
    """Golden model against the float model, R² and zeros over T, and the float model's runaway check."""
    from ipvae.golden_model.evaluate import fixed_metrics, float_metrics, metrics_table, runaway_check
    model = b.float_model()
    fl = float_metrics(model, x, CURVE_TS)
    fx = fixed_metrics(b.fixed, b.phi, x, CURVE_TS)
    table = metrics_table([("float (PyTorch)", fl), ("fixed (golden model)", fx)], (16, 64, 256))
    print(table)
    run = runaway_check(model, x[:500])
    print(f"runaway check (float, T={run['t']}): {run['runaway_fraction']:.3%} of inputs, "
          f"u max {run['u_max']:.2f}, count max {run['count_max']}")
    return Quality(model, fl, fx, table, run)


def stage_cosim(cfg: FlowConfig, spec) -> CoSim:
    """The RTL on Verilator against the golden model on held-out patches, with input gaps and
    output stalls: bit- and cycle-exact table."""
    from ipvae.sim.regression import heldout_cases, summarise
    from ipvae.sim.regression import run as cosim
    from ipvae.sim.regression import table as sim_table
    cases = heldout_cases(spec, cfg.sim_samples, cfg.sim_iterations)
    res = cosim("verilator", spec, cfg.lanes, cases, cfg.out / "sim_build", gap=0.2, backpressure=0.2,
                search=cfg.board.search, log=lambda s: print(s, flush=True))
    row = summarise(res)
    md = sim_table([row])
    print(md)
    if row["bit_exact"] != row["samples"]:
        bad = next(r for r in res["results"] if not r["bit_exact"])
        print(f"MISMATCH {bad['name']}: {bad['divergence']}")
    return CoSim(cases, res, row, md, np.array([r["z_out"] for r in res["results"]]))


def stage_synthesis(cfg: FlowConfig, spec) -> dict:
    """Yosys and nextpnr for the board (the synthesis report as a dict)."""
    from ipvae.synth import synthesize
    return synthesize(cfg.board.name, bundle=spec, lanes=cfg.lanes, seeds=list(cfg.seeds),
                      out_dir=cfg.out / f"synth_{cfg.board.name}")


def _plots(cfg: FlowConfig, b, x, shape, q: Quality, sim: CoSim, synth):
    """The report's figures; returns the spike trace of the raster's input."""
    from ipvae.golden_model import plots
    from ipvae.golden_model.formats import encode_input
    from ipvae.golden_model.golden import run as golden_run
    from ipvae.golden_model.golden import trace_one
    from ipvae.rtl.core import cycle_model
    out, lanes, search = cfg.out, cfg.lanes, cfg.board.search
    T_LAT = synth["cycles"]["iterations"]
    lat_codes, _ = encode_input(x[:64], b.fmt)
    lat = golden_run(b.fixed, lat_codes, T_LAT, (7 + np.arange(len(lat_codes))) % (1 << 32), lanes=lanes, trace=True)
    spikes, iter_cycles = [], []
    for i in range(len(lat_codes)):
        zp = [lat["z"][t][i] for t in range(T_LAT + 1)]
        per = cycle_model.iteration_cycles(b.fixed.n_latents, lanes, T_LAT, zp, search)
        spikes += [int(np.count_nonzero(zp[t])) for t in range(T_LAT)]
        iter_cycles += per[:T_LAT]
    plots.plot_cycles_per_iteration(spikes, iter_cycles, b.fixed.n_latents // lanes, out / "cycles_per_iteration.png",
                                    f"cycle model (= RTL, asserted in the tests), P={lanes}, T={T_LAT}, "
                                    f"{len(lat_codes)} held-out patches")
    plots.plot_dictionary(b.phi, shape, out / "dictionary.png")
    codes, _ = encode_input(x[:10], b.fmt)
    ts = cfg.sim_iterations
    nrec = min(10, len(sim.z_out))
    g = golden_run(b.fixed, codes[:nrec], ts, [c["seed"] for c in sim.cases[:nrec]], lanes=lanes, record=[ts])
    f = q.model.infer(x[:nrec], ts, seed=0, record=(ts,))[ts][1].numpy()
    plots.plot_reconstructions([("input", x[:nrec]), (f"float T={ts}", f @ b.phi.T),
                                (f"golden T={ts}", g["z"][ts] @ b.phi.T),
                                (f"RTL T={ts}", sim.z_out[:nrec] @ b.phi.T)], shape, out / "reconstructions.png",
                               n=nrec)
    tr = trace_one(b.fixed, codes[0], 64, seed=0)
    plots.plot_raster(tr["z"], out / "raster.png")
    plots.plot_curves({"float": q.float_metrics, "fixed (golden)": q.fixed_metrics}, out / "curves.png")
    return tr


def stage_report(cfg: FlowConfig, spec, b, x, shape, q: Quality, sim: CoSim, synth: dict, timings: dict,
                 t_start: float):
    """report.md, summary.json and the plots in the run folder; the summary on the console."""
    t0 = time.time()
    out, lanes, name, board = cfg.out, cfg.lanes, cfg.board.name, cfg.board
    fl, fx, run, sim_row = q.float_metrics, q.fixed_metrics, q.runaway, sim.row
    tr = _plots(cfg, b, x, shape, q, sim, synth)
    T_LAT = synth["cycles"]["iterations"]
    timings["report"] = time.time() - t0
    util = synth["utilization"]
    fm = synth["fmax_mhz"]
    best_fmax = max(r["core_fmax_mhz"] for r in synth["seeds"])
    bitstream_ok = best_fmax >= synth["clock"]["pll_mhz"]
    # the bitstream's clock when it meets timing; otherwise the clock it would need to run at
    run_mhz = synth["clock"]["pll_mhz"] if bitstream_ok else best_fmax
    latency_us = synth["cycles"]["median"] / run_mhz
    summary = dict(bundle=str(spec or bundle_mod.DEFAULT_BUNDLE), samples=len(x), cosim=sim_row,
                   float={str(t): v for t, v in fl.items()}, fixed={str(t): v for t, v in fx.items()},
                   runaway=run, spiking_per_iteration=tr["spiking"].tolist(), board=name, lanes=lanes,
                   synthesis=dict(utilization=util, fmax_mhz=fm, clock_mhz=synth["clock"]["pll_mhz"],
                                  bitstream_timing_met=bitstream_ok, report=str(out / f"synth_{name}")),
                   cycles=synth["cycles"], latency_us=latency_us, stage_seconds=timings,
                   seconds=time.time() - t_start)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "report.md").write_text("\n".join([
        "# ipvae flow report", "",
        f"Bundle: `{summary['bundle']}` (N={b.fixed.n_inputs}, K={b.fixed.n_latents}); "
        f"{len(x)} held-out samples.", "",
        "## Quality: float model vs integer golden model", "", q.table, "",
        f"Runaway check (float model, T={run['t']}, {run['samples']} inputs): "
        f"{run['runaway_fraction']:.3%} ran away; u max {run['u_max']:.2f}; largest count {run['count_max']}.", "",
        "![R² and zeros against iterations](curves.png)", "",
        f"## RTL co-simulation (Verilator, P={lanes}, T={cfg.sim_iterations}, random input gaps and output stalls)",
        "",
        "Every iteration's u and z, the outputs and the cycle count are compared with the golden model.", "",
        sim.table, "",
        f"## Synthesis: {board.platform_name}", "",
        f"P={lanes} lanes, {synth['weights']} weights, core clock {synth['clock']['pll_mhz']:g} MHz target; "
        f"full report: [synth_{name}/report.md](synth_{name}/report.md).", "",
        "| resource | used | available |", "|---|---|---|",
        *[f"| {k} | {v['used']} | {v['available']} |" for k, v in util.items()], "",
        f"Fmax (min / median / max over {len(synth['seeds'])} seed(s)): {fm['min']:.1f} / {fm['median']:.1f} / "
        f"{fm['max']:.1f} MHz; the bitstream (seed {synth['best_seed']}, "
        f"{best_fmax:.1f} MHz) "
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
    print(f"{name:<9} " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in util.items())
          + f"; Fmax {fm['min']:.1f}-{fm['max']:.1f} MHz over {len(synth['seeds'])} seeds, bitstream "
          f"{'meets' if bitstream_ok else 'MISSES'} {synth['clock']['pll_mhz']:g} MHz")
    print(f"latency   {synth['cycles']['median']:.0f} cycles = {latency_us:.0f} µs per inference (T={T_LAT})")
    print(f"report    {out / 'report.md'}")
    return summary


#: the stages in order, with the title each prints
STAGES = (
    (stage_bundle, lambda c: "bundle"),
    (stage_data, lambda c: "data (held-out samples)"),
    (stage_quality, lambda c: f"golden model vs float model on {c.samples} held-out samples, T up to {max(CURVE_TS)}"),
    (stage_cosim, lambda c: f"RTL and co-simulation (Verilator, {c.sim_samples} held-out patches, "
                            f"T={c.sim_iterations}, P={c.lanes}, sampler W={c.board.search})"),
    (stage_synthesis, lambda c: f"synthesis for {c.board.platform_name}: P={c.lanes}, nextpnr seeds {list(c.seeds)}"),
    (stage_report, lambda c: f"report -> {c.out}"),
)


def run_flow(cfg: FlowConfig) -> dict:
    """Every stage in order; returns the summary (also written to ``cfg.out / "summary.json"``)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    timings = {}
    titles = iter([(i + 1, title(cfg)) for i, (_, title) in enumerate(STAGES)])

    def stage(text=None):
        n, t = next(titles)
        _stage(n, len(STAGES), text or t)

    stage()
    spec, b = stage_bundle(cfg)
    stage()
    x, shape = stage_data(cfg, b)
    stage(f"golden model vs float model on {len(x)} held-out samples, T up to {max(CURVE_TS)}")
    q = stage_quality(cfg, b, x)
    timings["bundle, data, evaluation"] = time.time() - t_start
    t0 = time.time()
    stage()
    sim = stage_cosim(cfg, spec)
    timings["co-simulation"] = time.time() - t0
    t0 = time.time()
    stage()
    synth = stage_synthesis(cfg, spec)
    timings["synthesis"] = time.time() - t0
    stage()
    return stage_report(cfg, spec, b, x, shape, q, sim, synth, timings, t_start)
