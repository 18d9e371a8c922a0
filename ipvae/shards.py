"""The co-simulation regression cut into shards of cases, run as cluster tasks (ipvae/cluster.py)
and merged into the result a single run gives.

Each case carries its own sampler seed, so a case's spikes, outputs and cycle count do not depend
on the shard or the worker that runs it; only the testbench's stall pattern does (``tb_seed``,
offset per shard), and the checks hold under any stalls. A worker compiles the design once, into
its own folder under the build root (shards on one worker reuse it; two workers never compile into
one folder).
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from ipvae.cluster import run_tasks

__all__ = ["regression_shard", "sharded_regression", "split"]


def split(cases, shards):
    """``cases`` cut into at most ``shards`` contiguous, nearly equal parts (none empty)."""
    shards = max(1, min(int(shards), len(cases)))
    size, extra = divmod(len(cases), shards)
    out, at = [], 0
    for i in range(shards):
        n = size + (i < extra)
        out.append(cases[at:at + n])
        at += n
    return out


def regression_shard(sim, bundle_path, lanes, cases, build_root, kw):
    """One task: ``run_regression`` of ``cases`` in this worker's own build folder."""
    from ipvae.sim.runner import run_regression
    mine = Path(build_root) / f"worker-{socket.gethostname()}-{os.getpid()}"
    return run_regression(sim, bundle_path, lanes, cases, build_root=mine, **kw)


def sharded_regression(client, sim, bundle_path, lanes, cases, build_root, shards, log=print, **kw):
    """``run_regression`` over ``cases`` as ``shards`` tasks; returns the merged result (the results
    in case order, simulated cycles summed, the wall time of the whole run) with ``errors``: one
    line per shard that failed on its own (its cases are missing from the results)."""
    t0 = time.time()
    parts = split(list(cases), shards)
    tb_seed = kw.pop("tb_seed", 0)
    tasks = [(f"{sim} shard {i + 1}/{len(parts)} ({len(p)} cases)",
              (sim, bundle_path, lanes, p, str(build_root), dict(kw, tb_seed=tb_seed + i)))
             for i, p in enumerate(parts)]
    outcome = run_tasks(client, regression_shard, tasks, name=f"sim {sim}", log=log)
    done = [res for _, res in outcome.results.values()]
    merged = dict(sim=sim, results=[r for res in done for r in res["results"]],
                  sim_cycles=sum(res["sim_cycles"] for res in done), wall_seconds=time.time() - t0,
                  failed=sum(res["failed"] for res in done), shards=len(parts),
                  errors=[f"{f.label}: {f.error}" for f in outcome.failures])
    return merged
