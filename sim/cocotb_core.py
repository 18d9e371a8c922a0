"""cocotb test module: runs the cases of a regression (IPVAE_SIM_CASES, a JSON file written by
sim/runner.py) through the core and checks each against the golden model. Results go to
IPVAE_SIM_RESULTS; the test fails with the first divergence (iteration, neuron, expected,
actual) if any inference is not bit-exact."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.golden import first_divergence, trace_one
from ipvae.rtl.core import cycle_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.sim.testbench import CoreTestbench


@cocotb.test(timeout_time=3600, timeout_unit="sec")
async def regression(dut):
    cfg = json.loads(Path(os.environ["IPVAE_SIM_CASES"]).read_text())
    params = cfg["params"]
    fixed = bundle_mod.load(cfg["bundle"]).fixed
    config = CoreConfig.from_settings(fixed, params, trace=True)
    tb = CoreTestbench(dut, params, gap=cfg["gap"], backpressure=cfg["backpressure"], seed=cfg["tb_seed"])
    await tb.start()
    results, failures = [], []
    t0 = time.perf_counter()
    progress_file = os.environ.get("IPVAE_SIM_PROGRESS")
    last = [0.0]

    def report(index, t, iterations, force=False):
        """One JSON line for sim/runner.py's progress printer, at most every 2 s of wall time."""
        now = time.perf_counter()
        if progress_file and (force or now - last[0] >= 2.0):
            last[0] = now
            with open(progress_file, "a") as f:
                f.write(json.dumps(dict(case=index, cases=len(cfg["cases"]), t=t, iterations=iterations,
                                        cycles=tb.cycle, wall=now - t0)) + "\n")

    for index, case in enumerate(cfg["cases"]):
        codes, iterations, seed = np.array(case["x"]), case["iterations"], case["seed"]
        first_in = tb.cycle
        last_in = await tb.send(codes, iterations, seed)
        got = await tb.receive(iterations, progress=lambda t, i=index, n=iterations: report(i, t, n))
        want = trace_one(fixed, codes, iterations, seed, lanes=params["lanes"])
        div = first_divergence(want, dict(u=got["trace_u"], z=got["trace_z"]))
        model = cycle_model.core_cycles(config, iterations, want["z"])
        ok_out = bool(np.array_equal(got["z"], want["z"][-1]) and np.array_equal(got["u"], want["u"][-1]))
        rec = dict(name=case["name"], iterations=iterations, seed=seed, bit_exact=div is None and ok_out,
                   divergence=str(div) if div else None, cycles=got["cycles"], model_cycles=model,
                   latency_first_in_to_last_out=got["last_out"] - first_in + 1,
                   latency_last_in_to_first_out=got["first_out"] - last_in,
                   spikes=int((want["z"][:iterations] > 0).sum()), z_out=got["z"].tolist())
        results.append(rec)
        if not rec["bit_exact"]:
            failures.append(f"{case['name']} (T={iterations}, seed={seed}): {div or 'final outputs differ'}")
        elif got["cycles"] != model:
            failures.append(f"{case['name']}: cycles {got['cycles']} != cycle model {model}")
        report(index + 1, 0, 0, force=True)
    wall = time.perf_counter() - t0
    with open(os.environ["IPVAE_SIM_RESULTS"], "w") as f:
        json.dump(dict(results=results, sim_cycles=tb.cycle, wall_seconds=wall), f, indent=1)
    assert not failures, "; ".join(failures[:3])
