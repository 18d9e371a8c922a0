"""The co-simulation regression: sim.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

from pathlib import Path

from .args import (
    add_lanes,
    add_search,
    bundle_arg,
    out_dir,
    out_file,
    positive_int,
    prepare_parent,
    seed32,
    stall_probability,
)


def cmd_sim(a):
    from ipvae.sim.regression import heldout_cases, run, summarise, table
    sims = ("icarus", "verilator") if a.sim == "both" else (a.sim,)
    cases = heldout_cases(a.bundle, a.samples, a.iterations, seed=a.seed)
    rows = []
    for sim in sims:
        print(f"[sim] {sim}: building and running {len(cases)} inferences (T={a.iterations}, P={a.lanes})",
              flush=True)
        res = run(sim, a.bundle, a.lanes, cases, a.build, search=a.search,
                  gap=a.gap, backpressure=a.backpressure, log=lambda s: print(s, flush=True))
        bad = [r for r in res["results"] if not r["bit_exact"]]
        for r in bad[:3]:
            print(f"[sim] MISMATCH {r['name']} (T={r['iterations']}, seed={r['seed']}): {r['divergence']}")
        rows.append(summarise(res))
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
    if any(r["bit_exact"] < r["samples"] for r in rows):
        from ipvae.golden_model.errors import IpvaeError
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
    s.set_defaults(fn=cmd_sim)
