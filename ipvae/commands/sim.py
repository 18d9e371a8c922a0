"""The co-simulation regression: sim.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from pathlib import Path

from ipvae.cluster import CLUSTER_HELP

from .args import (
    add_lanes,
    add_search,
    bundle_arg,
    cluster_spec,
    out_dir,
    out_file,
    positive_int,
    prepare_parent,
    seed32,
    stall_probability,
)


def cmd_sim(a):
    from ipvae.sim.regression import heldout_cases, run
    sims = ("icarus", "verilator") if a.sim == "both" else (a.sim,)
    rows, errors = [], []
    client = None
    if a.cluster is not None:              # first: a scheduler that does not answer is said at once
        from ipvae.cluster import connect
        client = connect(a.cluster, log=lambda s: print(s, flush=True))
    try:
        cases = heldout_cases(a.bundle, a.samples, a.iterations, seed=a.seed)
        for sim in sims:
            print(f"[sim] {sim}: building and running {len(cases)} inferences (T={a.iterations}, P={a.lanes})"
                  + (f" in {a.shards or 'one shard a worker'} shards on {a.cluster}" if client else ""), flush=True)
            if client is None:
                res = run(sim, a.bundle, a.lanes, cases, a.build, search=a.search,
                          gap=a.gap, backpressure=a.backpressure, log=lambda s: print(s, flush=True))
            else:
                from ipvae.shards import sharded_regression
                shards = a.shards or max(1, len(client.scheduler_info().get("workers", {})))
                res = sharded_regression(client, sim, a.bundle, a.lanes, cases, a.build, shards,
                                         log=lambda s: print(s, flush=True), search=a.search, gap=a.gap,
                                         backpressure=a.backpressure)
                errors += res["errors"]
            rows.append(_report(res))
    finally:
        if client is not None:
            from ipvae.cluster import close
            close(client)
    _finish(a, rows, errors)


def _report(res):
    from ipvae.sim.regression import summarise
    bad = [r for r in res["results"] if not r["bit_exact"]]
    for r in bad[:3]:
        print(f"[sim] MISMATCH {r['name']} (T={r['iterations']}, seed={r['seed']}): {r['divergence']}")
    return summarise(res)


def _finish(a, rows, errors):
    from ipvae.sim.regression import table
    text = table(rows)
    print(text)
    if a.write:
        prepare_parent(a.write)
        Path(a.write).write_text(
            "# Co-simulation throughput\n\n"
            f"`ipvae sim --sim {a.sim} --samples {a.samples} --iterations {a.iterations} --lanes {a.lanes} "
            f"--gap {a.gap} --backpressure {a.backpressure}`: the default core (with its trace port) on "
            "held-out patches, both simulators run side by side on the same machine (2-core CI-class). "
            "cocotb awaits every clock edge in Python; every inference's u and z per iteration, outputs "
            "and cycle count are checked against the golden model.\n\n" + text + "\n")
        print(f"wrote {a.write}")
    from ipvae.golden_model.errors import IpvaeError
    if errors:
        raise IpvaeError(f"{len(errors)} shard(s) failed: " + "; ".join(errors))
    if any(r["bit_exact"] < r["samples"] for r in rows):
        raise IpvaeError("co-simulation found mismatches (see above)")


def register(sub):
    s = sub.add_parser("sim", help="cocotb co-simulation regression of the generated Verilog")
    s.add_argument("--sim", default="verilator", choices=("icarus", "verilator", "both"))
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--samples", type=positive_int, default=20)
    s.add_argument("--iterations", type=positive_int, default=16)
    add_lanes(s, "cosim")
    add_search(s)
    s.add_argument("--seed", type=seed32, default=1)
    s.add_argument("--gap", type=stall_probability, default=0.0, help="probability of an idle input cycle")
    s.add_argument("--backpressure", type=stall_probability, default=0.0, help="probability of an output stall")
    s.add_argument("--build", type=out_dir, default="sim_build")
    s.add_argument("--write", type=out_file, help="also write the summary as Markdown (e.g. docs/cosim.md)")
    s.add_argument("--cluster", type=cluster_spec, help="run the cases as shards on a Dask cluster: " + CLUSTER_HELP)
    s.add_argument("--shards", type=positive_int, help="shards of cases (default: one a worker)")
    s.set_defaults(fn=cmd_sim)
