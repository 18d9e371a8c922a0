"""Stimuli and summaries for co-simulation regressions (used by tests/test_cosim.py and
``ipvae sim``)."""
from __future__ import annotations

import numpy as np

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.data import heldout, prepare
from ipvae.golden_model.formats import encode_input
from ipvae.golden_model.layout import seeds_for

from .runner import run_regression


def heldout_cases(bundle_path, samples, iterations, seed=1, offset=0):
    """Real held-out patches of the bundle's dataset, one seed each."""
    b = bundle_mod.load(bundle_path)
    data = prepare(b.data_spec(), log=lambda s: None)
    codes, _ = encode_input(heldout(data, samples, offset), b.fmt)
    seeds = seeds_for(seed, len(codes), offset)
    return [dict(name=f"heldout{offset + i}", x=codes[i], iterations=iterations,
                 seed=int(seeds[i])) for i in range(len(codes))]


def corner_cases(n_inputs, fmt, iterations, seed=7):
    """All-zero input, both maximum amplitudes, alternating extremes."""
    lo, hi = -(1 << (fmt.input_bits - 1)), (1 << (fmt.input_bits - 1)) - 1
    xs = dict(zeros=np.zeros(n_inputs), max_pos=np.full(n_inputs, hi), max_neg=np.full(n_inputs, lo),
              alternating=np.where(np.arange(n_inputs) % 2, hi, lo))
    return [dict(name=k, x=v.astype(int), iterations=iterations, seed=seed + i) for i, (k, v) in enumerate(xs.items())]


def assert_exact(res):
    """Every inference bit-exact and cycle-exact (the cycle model's count), no cocotb failure."""
    bad = [r for r in res["results"] if not r["bit_exact"] or r["cycles"] != r["model_cycles"]]
    assert not bad, bad[0]
    assert res["failed"] == 0


def summarise(res):
    """One row of the summary table from a run_regression result."""
    rs = res["results"]
    cyc = np.array([r["cycles"] for r in rs])
    return dict(sim=res["sim"], samples=len(rs), bit_exact=sum(r["bit_exact"] for r in rs),
                cycles_exact=sum(r["cycles"] == r["model_cycles"] for r in rs),
                cycles_min=int(cyc.min()), cycles_median=float(np.median(cyc)), cycles_max=int(cyc.max()),
                sim_cycles_per_s=res["sim_cycles"] / max(res["wall_seconds"], 1e-9),
                inferences_per_s=len(rs) / max(res["wall_seconds"], 1e-9))


def table(rows):
    head = ("| simulator | samples | bit-exact | cycles = model | cycles min / median / max | "
            "simulated cycles/s | inferences/s |\n|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(
        f"| {r['sim']} | {r['samples']} | {r['bit_exact']} | {r['cycles_exact']} | {r['cycles_min']} / "
        f"{r['cycles_median']:.0f} / {r['cycles_max']} | {r['sim_cycles_per_s']:,.0f} | {r['inferences_per_s']:.1f} |"
        for r in rows)


def run(sim, bundle_path, lanes, cases, build_root, **kw):
    return run_regression(sim, bundle_path, lanes, cases, build_root=build_root, **kw)
