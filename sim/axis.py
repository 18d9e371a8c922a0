"""Build the AXI4-Stream IP top (rtl/ip/top.py) and run sim/cocotb_axis.py against it: the core as
a foreign flow drives it, through cocotbext-axi's source and sink."""
from __future__ import annotations

import json
import uuid

from ipvae.golden_model import bundle as bundle_mod
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.ip.top import AxisIpTop

from .runner import SimulationError, compile_design

TOPLEVEL = "ipvae_axis"


def run_axis(sim, bundle_path, lanes, cases, *, search=4, max_iterations=63, source_pause="random",
             sink_pause="random", build_root="sim_build", weights="rom", lateral_lanes=0):
    """cases: [{name, x (codes; N of them, or fewer/more for a malformed frame), iterations, seed}].
    ``lateral_lanes`` > 0: the array core with ``lanes`` sampler units (rtl/core/array_core.py).
    Returns the cocotb module's results; raises AssertionError with its failure if a check failed."""
    b = bundle_mod.load(bundle_path)
    config = CoreConfig(b.fixed, lanes, max_iterations=max_iterations, search=search, weights=weights,
                        lateral_lanes=lateral_lanes)
    top = AxisIpTop(config.build())
    runner, build_dir = compile_design(sim, top, TOPLEVEL, build_root)
    tag = uuid.uuid4().hex[:8]
    plan, results = build_dir / f"axis-plan-{tag}.json", build_dir / f"axis-results-{tag}.json"
    plan.write_text(json.dumps(dict(
        config.settings(), bundle=str(bundle_mod.resolve(bundle_path)),
        source_pause=source_pause, sink_pause=sink_pause,
        load_addr_bits=len(top.core.load.payload.addr) if weights == "ram" else None,
        cases=[dict(c, x=[int(v) for v in c["x"]]) for c in cases])))
    log = build_dir / f"axis-{tag}.log"
    xml = runner.test(test_module="ipvae.sim.cocotb_axis", hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                      test_dir=build_dir, results_xml=str(build_dir / f"axis-{tag}.xml"),
                      extra_env={"IPVAE_AXIS_PLAN": str(plan), "IPVAE_AXIS_RESULTS": str(results)}, log_file=log)
    from cocotb_tools.runner import get_results  # lazy: cocotb loads only when a simulator runs
    _, failed = get_results(xml)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:]) if log.exists() else ""
    if failed:
        raise AssertionError(f"AXI4-Stream co-simulation failed ({sim}); {log}:\n{tail}")
    if not results.exists():
        raise SimulationError(f"the {sim} run produced no results; its log {log} ends with:\n{tail}")
    return json.loads(results.read_text())
