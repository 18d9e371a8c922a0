"""Sweeps on a cluster: how the wall time of one sweep scales with workers.

One iCE40 sweep, the same points each time, built from scratch (fresh folders, no cached builds):
on a process pool of 2 (the executor the sweep used before Dask), on a LocalCluster of 1 worker and
of 2, one after another on this machine; every report must equal the first. The time on N workers
is then projected from the 1-worker run's task durations (uncontended) by simulating the schedule
Dask follows for independent tasks, each free worker taking the next task in submission order,
plus the run's fixed cost (cluster start, report); the same projection is made for the committed
ULX3S-85F sweep (docs/sweep/ulx3s-85f) from the durations its report recorded. A projection is a
simulation, stated as such; only the three wall times are measured.

``ipvae cluster-bench`` writes docs/cluster_scaling.{json,png}; ``ipvae bench`` shows them.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ipvae.cluster import Outcome, TaskFailure

__all__ = ["makespan", "pool_runner", "run_scaling", "scaling_section", "SCALING_JSON"]

SCALING_JSON = Path("docs/cluster_scaling.json")
PROJECTED = (1, 2, 4, 8, 16, 32)
_SAME_KEYS_DROPPED = ("seconds", "bundle", "out_dir", "report")


def makespan(durations, workers):
    """Seconds until the last of ``durations`` ends when each of ``workers`` takes the next task, in
    order, as soon as it is free."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    free = [0.0] * workers
    for d in durations:
        i = min(range(workers), key=free.__getitem__)
        free[i] += float(d)
    return max(free)


def pool_runner(jobs):
    """A ``run_sweep`` runner on a ``ProcessPoolExecutor`` of ``jobs`` processes: an Outcome as
    cluster.run_tasks gives (results in task order, failures listed)."""
    def run(fn, tasks):
        out = Outcome()
        with ProcessPoolExecutor(jobs) as pool:
            futures = [(i, label, pool.submit(fn, *args)) for i, (label, args) in enumerate(tasks)]
            for i, label, fut in futures:
                try:
                    out.results[f"pool-{i}"] = (label, fut.result())
                except Exception as exc:         # a task's own failure, kept as the cluster keeps it
                    out.failures.append(TaskFailure(f"pool-{i}", label, f"{type(exc).__name__}: {exc}"))
        return out
    return run


def _same(points):
    return [{k: v for k, v in p.items() if k not in _SAME_KEYS_DROPPED} for p in points]


def run_scaling(board="icebreaker", lanes=(1, 2, 4, 8), bundle=None, out="runs/cluster_bench", samples=300,
                log=print, write=SCALING_JSON):
    from ipvae.sweep import run_sweep
    out = Path(out)
    runs, ref = [], None
    for name, workers, kw in (("process pool", 2, dict(runner=pool_runner(2))),
                              ("Dask LocalCluster", 1, dict(jobs=1)),
                              ("Dask LocalCluster", 2, dict(jobs=2))):
        folder = out / f"{name.split()[0].lower()}-{workers}"
        shutil.rmtree(folder, ignore_errors=True)           # every run builds every point
        log(f"[cluster-bench] {name}, {workers} worker(s): sweep of {board} lanes {list(lanes)} ...")
        t0 = time.time()
        pts = run_sweep(board, list(lanes), [8], bundle=bundle, out=folder, samples=samples,
                        log=lambda s: None, **kw)
        wall = time.time() - t0
        same = _same(pts)
        ref = same if ref is None else ref
        runs.append(dict(executor=name, workers=workers, wall_s=round(wall, 1), same_report=same == ref,
                         tasks_s=[p["seconds"] for p in pts]))
        log(f"[cluster-bench]   {wall:.0f} s" + ("" if same == ref else "  (REPORT DIFFERS)"))
    one = runs[1]
    fixed = max(0.0, one["wall_s"] - sum(one["tasks_s"]))
    proj = [dict(workers=n, seconds=round(fixed + makespan(one["tasks_s"], n), 1)) for n in PROJECTED]
    big = json.loads(Path("docs/sweep/ulx3s-85f/sweep.json").read_text())
    big_s = [p["seconds"] for p in big]
    big_proj = [dict(workers=n, seconds=round(makespan(big_s, n), 1)) for n in PROJECTED]
    rec = dict(board=board, lanes=list(lanes), bundle=bundle or "the board's", samples=samples, cpus=os.cpu_count(),
               runs=runs, fixed_s=round(fixed, 1), projected=proj,
               ulx3s_85f=dict(points=len(big_s), tasks_s=big_s, projected=big_proj),
               measured=time.strftime("%Y-%m-%d"))
    if write:
        write = Path(write)
        write.write_text(json.dumps(rec, indent=1) + "\n")
        _plot(rec, write.with_suffix(".png"))
        log(f"[cluster-bench] wrote {write} and {write.with_suffix('.png')}")
    if not all(r["same_report"] for r in runs):
        from ipvae.golden_model.errors import IpvaeError
        raise IpvaeError("the sweep's report differs between executors: " +
                         ", ".join(f"{r['executor']} x{r['workers']}" for r in runs if not r["same_report"]))
    return rec


def _plot(rec, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, proj, title in ((axes[0], rec["projected"], f"{rec['board']} sweep, {len(rec['lanes'])} points"),
                            (axes[1], rec["ulx3s_85f"]["projected"],
                             f"ULX3S-85F sweep, {rec['ulx3s_85f']['points']} points (recorded durations)")):
        n = [p["workers"] for p in proj]
        ax.plot(n, [p["seconds"] / 60 for p in proj], marker="o", label="projected (schedule simulation)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("workers")
        ax.set_ylabel("minutes")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for r in rec["runs"]:
        mark = "s" if r["executor"] == "process pool" else "^"
        axes[0].plot([r["workers"]], [r["wall_s"] / 60], mark, ms=9,
                     label=f"measured: {r['executor']}, {r['workers']}")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling_section(path=SCALING_JSON):
    """The benchmarks page's section, from the committed measurement (empty if there is none)."""
    path = Path(path)
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    lines = ["## Sweeps on a cluster", "",
             f"One {r['board']} sweep (lanes {r['lanes']}, weight width 8, one nextpnr seed, {r['samples']} held-out "
             f"patches), every point built from scratch, measured one run after another on this {r['cpus']}-core "
             f"machine on {r['measured']} (`ipvae cluster-bench`; docs/cluster.md):", "",
             "| executor | workers | wall time (s) | report equal to the first |", "|---|---|---|---|"]
    for run in r["runs"]:
        lines.append(f"| {run['executor']} | {run['workers']} | {run['wall_s']:.0f} | "
                     f"{'yes' if run['same_report'] else 'NO'} |")
    lines += ["", f"Projected (a simulation of the schedule from the 1-worker run's task durations "
              f"{[round(s) for s in r['runs'][1]['tasks_s']]} s, plus its fixed {r['fixed_s']:.0f} s; not measured), "
              "and the same for the committed ULX3S-85F sweep from the durations its report recorded "
              f"({r['ulx3s_85f']['points']} points, {sum(r['ulx3s_85f']['tasks_s']) / 60:.0f} min of tasks):", "",
              "| workers | " + " | ".join(str(p["workers"]) for p in r["projected"]) + " |",
              "|---|" + "---|" * len(r["projected"]),
              f"| {r['board']} sweep (s) | " + " | ".join(f"{p['seconds']:.0f}" for p in r["projected"]) + " |",
              "| ULX3S-85F sweep (min) | " + " | ".join(f"{p['seconds'] / 60:.0f}" for p in r["ulx3s_85f"]["projected"])
              + " |", "", "![sweep scaling](cluster_scaling.png)", ""]
    return lines
